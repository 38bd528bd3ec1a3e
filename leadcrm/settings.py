"""LeadCRM settings: one module, driven by the environment (and `.env` when present).

Every variable is listed in `.env.example`. Bad values fail at start-up, not on the first request.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_bool(name: str, default: bool) -> bool:
    """Strict: a typo such as DEBUG=ture is an error, not a silent False."""
    value = env.str(name, default=str(default)).strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")
    return value in ("true", "1", "yes", "on")


if (BASE_DIR / ".env").is_file() and not env_bool("IGNORE_DOTENV", default=False):
    # Real environment variables win over the file. `make test` ignores it: tests configure
    # themselves, and take DATABASE_URL / CELERY_BROKER_URL from the environment only.
    env.read_env(BASE_DIR / ".env")

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "leadcrm",  # the ground floor: shared pieces, and the commands that span both partners
    "leads",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "leadcrm.webhooks.WebhookMiddleware",  # a webhook's request: from here to its view
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out login
]

ROOT_URLCONF = "leadcrm.urls"
WSGI_APPLICATION = "leadcrm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let the development server's threads write without
    # "database is locked" errors; PostgreSQL is the production database.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["ENGINE"] = "leadcrm.postgres"  # Django's, checked without a round trip
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # Parameters are sent apart from the statement, not quoted into it in Python, and a statement
    # run five times on a connection is prepared: parsed and planned once (the webhook's INSERT,
    # a worker's statements). Django turns preparing off for the sake of connection poolers in
    # transaction mode; the deployment here has none between the processes and PostgreSQL.
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
# The webhook views commit the raw delivery themselves; ATOMIC_REQUESTS would let a later
# failure roll it back.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Admin logins: repeated failures lock the username out from that address (django-axes) ------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: it refuses a locked-out login before a check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
# A lockout ends by itself after this, or at once with `manage.py axes_reset_username NAME`.
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
# Per username and address together: an attacker elsewhere cannot lock an officer out, and one
# address cannot try a thousand usernames five times each without locking each of them.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# Behind proxies that append the client's address to X-Forwarded-For, how many there are; 0 takes
# the connection's own address. Set it only when every request comes through them: the header is
# whatever a client sends otherwise.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
if TRUSTED_PROXIES:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXIES
    AXES_IPWARE_PROXY_ORDER = "right-most"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- HTTP security (production unless DEBUG) ---------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]  # container health checks speak plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# The preload directive only allows a later submission to the browsers' list; it submits nothing.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Celery ---------------------------------------------------------------------------------------
# Without a broker, tasks run in-process once the transaction that queued them commits.
CELERY_TASK_ALWAYS_EAGER = not env.str("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TIMEZONE = TIME_ZONE  # the daily beat entries (crontab) run in the lender's time zone
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # tasks are idempotent: a crashed worker's task runs again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
# Celery closes the database connection around every task unless told to keep it: a new
# PostgreSQL backend per lead was most of a worker's time in draining a backlog. Kept for up to
# this many tasks; leadcrm.celery closes it sooner when CONN_MAX_AGE or a health check says so.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A webhook must answer within a second even when the broker is down: publish once, fail fast,
# and let the sweep re-queue what the database still marks as pending.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,  # kombu's reconnect loop before a publish gives up (it sleeps otherwise)
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
    "socket_connect_timeout": 0.5,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 0.5
LEAD_SWEEP_SECONDS = env.int("LEAD_SWEEP_SECONDS", default=60)
if LEAD_SWEEP_SECONDS < 1:
    raise ImproperlyConfigured(f"LEAD_SWEEP_SECONDS must be at least 1, not {LEAD_SWEEP_SECONDS}")
# Publishing a lead's task claims its deliveries (LeadDelivery.queued_at); the sweep queues a
# claimed delivery again only once the claim is this old. No task runs longer than
# CELERY_TASK_TIME_LIMIT once a worker takes it, and in ordinary times none waits in the queue
# longer than a sweep or two, so an older claim means its message was lost (a broker restarted
# empty: queued again within this timeout and one sweep) or is waiting behind a backlog
# (duplicated at most once per timeout; the duplicate finds nothing left to do).
LEAD_REQUEUE_SECONDS = CELERY_TASK_TIME_LIMIT + 2 * LEAD_SWEEP_SECONDS
CELERY_BEAT_SCHEDULE = {
    "sweep-lead-deliveries": {
        "task": "leads.tasks.sweep_lead_deliveries",
        "schedule": LEAD_SWEEP_SECONDS,
    },
    "sweep-alerts": {"task": "alerts.tasks.sweep_alerts", "schedule": 60},
    "watch-crs-silence": {"task": "alerts.tasks.watch_crs_silence", "schedule": 15 * 60},
}

# --- CRF Connect leads (docs/contract.md#3-configuration) --------------------------------------
CRF_WEBHOOK_HEADER = env.str("CRF_WEBHOOK_HEADER", default="X-Api-Key")
CRF_WEBHOOK_SECRET = env.list("CRF_WEBHOOK_SECRET", default=[])
CRF_MAX_BODY_BYTES = 1024 * 1024
CRF_AZURE_QUEUE_URL = env.str("CRF_AZURE_QUEUE_URL", default="")
CRF_AZURE_BLOB_URL = env.str("CRF_AZURE_BLOB_URL", default="")
CRF_AZURE_POLL_SECONDS = env.int("CRF_AZURE_POLL_SECONDS", default=60)
# Hosts besides https://*.core.windows.net a SAS URL may point at: the emulator (Azurite).
CRF_AZURE_ALLOWED_HOSTS = env.list("CRF_AZURE_ALLOWED_HOSTS", default=[])
# Seconds a received queue message stays hidden from other pullers; after a crash it comes back.
CRF_AZURE_VISIBILITY_TIMEOUT = env.int("CRF_AZURE_VISIBILITY_TIMEOUT", default=120)
# Delete a blob once its leads are committed (the SAS then needs delete permission too).
CRF_AZURE_BLOB_DELETE = env_bool("CRF_AZURE_BLOB_DELETE", default=False)
# Error reports list the settings: the SAS URLs' signatures are taken out.
DEFAULT_EXCEPTION_REPORTER_FILTER = "leadcrm.logs.RedactingReporterFilter"
CELERY_BEAT_SCHEDULE["pull-crf-leads"] = {
    "task": "leads.tasks.pull_crf_leads",  # returns at once when no URL is configured
    "schedule": CRF_AZURE_POLL_SECONDS,
    "options": {"expires": CRF_AZURE_POLL_SECONDS},  # a backlog of missed pulls is one pull
}

# --- Ownership and speed to lead (docs/contract.md#17-ownership-and-speed-to-lead) ---------------
# Hours within which a new lead should be first contacted; older untouched ones are overdue.
LEAD_FIRST_CONTACT_HOURS = env.int("LEAD_FIRST_CONTACT_HOURS", default=24)
if LEAD_FIRST_CONTACT_HOURS < 1:
    raise ImproperlyConfigured(
        f"LEAD_FIRST_CONTACT_HOURS must be at least 1, not {LEAD_FIRST_CONTACT_HOURS}"
    )
# Where people reach this instance, for links in emails: the first ALLOWED_HOSTS over HTTPS.
SITE_URL = (
    env.str("SITE_URL", default="")
    or ("http://127.0.0.1:8000" if DEBUG or not ALLOWED_HOSTS else f"https://{ALLOWED_HOSTS[0]}")
).rstrip("/")
# The morning digest, at this hour of TIME_ZONE.
LEAD_DIGEST_HOUR = env.int("LEAD_DIGEST_HOUR", default=7)
if not 0 <= LEAD_DIGEST_HOUR <= 23:
    raise ImproperlyConfigured(f"LEAD_DIGEST_HOUR must be 0 to 23, not {LEAD_DIGEST_HOUR}")
CELERY_BEAT_SCHEDULE["morning-digests"] = {
    "task": "leads.ownership.send_digests",
    "schedule": crontab(hour=LEAD_DIGEST_HOUR, minute=0),
}

# --- Dispositions written back to CRF (docs/contract.md#16-dispositions) -----------------------
# CRF's Lead Management API: the QA host by default; production is https://connect.crfusa.com.
CRF_API_URL = env.str("CRF_API_URL", default="https://qa.connect.crfusa.com").rstrip("/")
# Unset: dispositions are recorded here only, and the lead page says they are not sent.
CRF_API_KEY = env.str("CRF_API_KEY", default="")
CRF_PARTNER_ROUTE = env.str("CRF_PARTNER_ROUTE", default="")
CRF_API_TIMEOUT = env.int("CRF_API_TIMEOUT", default=10)  # seconds, connect and read each
if CRF_API_KEY and not CRF_PARTNER_ROUTE:
    raise ImproperlyConfigured("CRF_API_KEY is set: set CRF_PARTNER_ROUTE (CRF's route for you).")
CELERY_BEAT_SCHEDULE["sweep-dispositions"] = {
    "task": "leads.dispositions.sweep",
    "schedule": LEAD_SWEEP_SECONDS,
}
CELERY_BEAT_SCHEDULE["reconcile-dispositions"] = {
    "task": "leads.dispositions.reconcile",
    "schedule": crontab(hour=6, minute=0),  # daily, in TIME_ZONE
}

# --- CRS credit alerts (docs/contract.md#3-configuration) --------------------------------------
CRS_WEBHOOK_USERNAME = env.str("CRS_WEBHOOK_USERNAME", default="")
CRS_WEBHOOK_PASSWORD = env.str("CRS_WEBHOOK_PASSWORD", default="")
CRS_WEBHOOK_PASSWORD_PREVIOUS = env.str("CRS_WEBHOOK_PASSWORD_PREVIOUS", default="")
CRS_MAX_BODY_BYTES = 32 * 1024 * 1024
# A nightly batch is expected; longer than this without one is an incident.
CRS_EXPECTED_BATCH_HOURS = env.int("CRS_EXPECTED_BATCH_HOURS", default=26)

# --- Email: notifications and incidents (console in development) ------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.org:587, sets EMAIL_BACKEND, EMAIL_HOST, …
EMAIL_CONFIG = env.email_url_config(env.str("EMAIL_URL", default="") or "consolemail://")
vars().update(EMAIL_CONFIG)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # a hung mail server must not stall a worker
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LeadCRM <leadcrm@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who hears of incidents (a missing CRS batch); unset: the active superusers.
MANAGERS = env.list("MANAGERS", default=[])

# --- Logging: to the console, never a header or a body -------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Libraries put request URLs in messages and errors: SAS signatures are taken out.
    "filters": {"redact_sas": {"()": "leadcrm.logs.RedactSignatures"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_sas"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # One "Task … succeeded" line per lead delivery is noise; failures still log.
        "celery.app.trace": {"level": "WARNING"},
        # Azure SDK: two lines per request at INFO. urllib3 logs request URLs (SAS included)
        # at DEBUG.
        "azure": {"level": "WARNING"},
        # A failed or locked-out admin login is a WARNING (username masked); its start-up banner
        # is noise.
        "axes": {"level": "WARNING"},
        "urllib3": {"level": "INFO"},
    },
}

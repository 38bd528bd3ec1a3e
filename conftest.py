"""Fixtures shared by every test.

Integration tests (`@pytest.mark.integration`) need PostgreSQL and a Redis broker: they run when
DATABASE_URL is a PostgreSQL URL and CELERY_BROKER_URL is set (`.ci/run` does both), start a real
`celery worker` on the test database, and fail — never skip — when a service does not answer.
Elsewhere they are deselected, and the header of the run says so.
"""

import base64
import json
import os
import uuid
from pathlib import Path

import pytest

# The session-wide `azurite` fixture (the Azure Storage emulator the pull tests read from) and
# `crf_api`, a test CRF Lead Management API the write-back tests send to; Chromium's `browser`
# and `logged_in` for the browser tests.
pytest_plugins = ["tests.azurite", "tests.crf_api", "tests.browser"]

SAMPLE_LEAD = Path(__file__).parent / "leads" / "samples" / "crf_lead.json"
SAMPLE_BATCH = Path(__file__).parent / "alerts" / "samples" / "crs_batch.json"
CRF_URL = "/webhooks/crf/leads/"
CRS_URL = "/webhooks/crs/alerts/"


def integration_configured() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(
        ("postgres", "postgresql", "pgsql")
    ) and bool(os.environ.get("CELERY_BROKER_URL"))


def pytest_configure(config):
    from django.conf import settings

    # Tests speak plain HTTP, including the session-wide live server built before any test runs.
    settings.SECURE_SSL_REDIRECT = False
    # Production's manifest storage needs `collectstatic` first; pages in tests do not.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def pytest_report_header(config):
    if integration_configured():
        return "integration tests: on (PostgreSQL + broker + real worker)"
    return "integration tests: deselected (set DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://…)"


def pytest_collection_modifyitems(config, items):
    if integration_configured():
        return
    deselected = [item for item in items if item.get_closest_marker("integration")]
    if deselected:
        items[:] = [item for item in items if not item.get_closest_marker("integration")]
        config.hook.pytest_deselected(items=deselected)


@pytest.fixture(autouse=True)
def _celery_mode(request):
    # Unit tests run tasks in-process even when a broker is configured; integration tests use
    # the real broker and worker.
    from leadcrm.celery import app

    # Set by the name the settings gave it: Celery reads that one first.
    eager = app.conf.CELERY_TASK_ALWAYS_EAGER
    app.conf.CELERY_TASK_ALWAYS_EAGER = eager or not request.node.get_closest_marker("integration")
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER = eager


@pytest.fixture(autouse=True)
def _empty_cache():
    # Each test starts with nothing cached (the worklist's team numbers, say).
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def crf_secret(settings) -> str:
    settings.CRF_WEBHOOK_HEADER = "X-Api-Key"
    settings.CRF_WEBHOOK_SECRET = ["test-crf-secret"]
    return "test-crf-secret"


@pytest.fixture
def sample_lead() -> dict:
    """The CRF document's sample lead, as a fresh dict to vary."""
    return json.loads(SAMPLE_LEAD.read_text())


@pytest.fixture
def add_lead(sample_lead):
    """Receive and process a variation of the sample lead (a new id unless given); its id."""
    from leads.intake import services

    def add(**changes) -> str:
        lead = {**sample_lead, "id": str(uuid.uuid4()), **changes}
        services.receive_lead(json.dumps(lead).encode())
        services.process_lead(uuid.UUID(lead["id"]))
        return lead["id"]

    return add


@pytest.fixture
def linked_person(add_lead, django_user_model):
    """A CRS user linked to a lead that is assigned to a loan officer; both have email addresses."""
    from alerts.models import CRSUser
    from leads.models import Lead
    from leads.ownership import services as ownership

    lead = Lead.objects.get(pk=add_lead())
    officer = django_user_model.objects.create_user("officer", "officer@lender.example", "x")
    ownership.assign(Lead.objects.filter(pk=lead.pk), officer, by=None)
    return CRSUser.objects.create(
        id=uuid.uuid4(), lead=lead, name="Bob Lastnameson", email="bob@somecompany.com"
    )


@pytest.fixture
def post_lead(client, crf_secret):
    """POST a lead (a dict, or bytes as they are) to the CRF webhook with the secret."""

    def post(payload, *, secret: str | None = crf_secret, **extra):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"HTTP_X_API_KEY": secret} if secret is not None else {}
        return client.post(CRF_URL, body, content_type="application/json", **headers, **extra)

    return post


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def crs_credentials(settings) -> tuple[str, str]:
    settings.CRS_WEBHOOK_USERNAME = "crs-test"
    settings.CRS_WEBHOOK_PASSWORD = "pw-0123456789"  # CRS allows at most 15 characters
    settings.CRS_WEBHOOK_PASSWORD_PREVIOUS = ""
    return settings.CRS_WEBHOOK_USERNAME, settings.CRS_WEBHOOK_PASSWORD


@pytest.fixture
def sample_batch() -> list[dict]:
    """The CRS sample batch, as a fresh list to vary."""
    return json.loads(SAMPLE_BATCH.read_text())


@pytest.fixture
def post_alerts(client, crs_credentials):
    """POST a CRS batch (a list/dict, or bytes as they are) with Basic credentials."""

    def post(payload, *, credentials: tuple[str, str] | None = crs_credentials, **extra):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"HTTP_AUTHORIZATION": basic_auth(*credentials)} if credentials else {}
        return client.post(CRS_URL, body, content_type="application/json", **headers, **extra)

    return post


@pytest.fixture
def login(client, django_user_model):
    """Log the test client in as a new member of a role ("Loan officer", "Lending manager")."""
    from django.contrib.auth.models import Group

    def as_role(role: str):
        name = role.split()[-1]
        user = django_user_model.objects.create_user(
            name, f"{name}@lender.example", "x", is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return as_role

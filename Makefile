# The two commands: `make run` (development server with demo data) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_LEADS ?= 300
DEMO_ALERTS ?= 200
# Debian's Chromium, which the browser tests drive (exported: the tests read the same variable).
CHROMIUM ?= /usr/lib/chromium/chromium
export CHROMIUM
# The package tool system packages come from; overridable so a test can make installing fail.
APT_GET ?= apt-get

.PHONY: run test lint install chromium node clean bench bench-intake bench-workspace azurite

# Everything `make test` needs: the system checks first, so a missing one stops before the long part.
install: chromium node node_modules/.installed $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# apt_install PACKAGES: as root, or through sudo when it needs no password; fails otherwise, and
# the caller says in one sentence what to run.
define apt_install
( if [ "$$(id -u)" = 0 ]; then as=; elif sudo -n true 2>/dev/null; then as="sudo -n"; else exit 1; fi; \
  echo "Installing $(1) with apt-get..."; \
  $$as env DEBIAN_FRONTEND=noninteractive $(APT_GET) update -qq \
  && $$as env DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq $(1) >/dev/null )
endef

chromium:
	@test -x "$(CHROMIUM)" || $(call apt_install,chromium) || true
	@test -x "$(CHROMIUM)" || { echo "Chromium is needed for the browser tests and is not at" \
	  "$(CHROMIUM): install it (as root: apt-get install chromium) or set CHROMIUM to its path," \
	  "then run make again." >&2; exit 1; }

# Node.js and npm run Azurite; they are checked every time, node_modules/ may outlive them.
node:
	@{ command -v node && command -v npm; } >/dev/null || $(call apt_install,nodejs npm) || true
	@{ command -v node && command -v npm; } >/dev/null || { echo "Node.js and npm are needed for" \
	  "Azurite, the Azure Storage emulator the pull tests start: install them (as root: apt-get" \
	  "install nodejs npm), then run make again." >&2; exit 1; }

# Azurite, the Azure Storage emulator the pull tests run against: the version in package-lock.json.
node_modules/.installed: package.json package-lock.json | node
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# A development .env with fresh random secrets, written once; edit it freely afterwards.
.env:
	$(PYTHON) -c "import secrets, pathlib; \
	t = pathlib.Path('.env.example').read_text(); \
	t = t.replace('DEBUG=false', 'DEBUG=true'); \
	t = t.replace('SECRET_KEY=', 'SECRET_KEY=' + secrets.token_urlsafe(40), 1); \
	t = t.replace('CRF_WEBHOOK_SECRET=', 'CRF_WEBHOOK_SECRET=' + secrets.token_urlsafe(24), 1); \
	t = t.replace('CRS_WEBHOOK_USERNAME=', 'CRS_WEBHOOK_USERNAME=crs', 1); \
	t = t.replace('CRS_WEBHOOK_PASSWORD=', 'CRS_WEBHOOK_PASSWORD=' + secrets.token_urlsafe(9)[:12], 1); \
	pathlib.Path('.env').write_text(t)"
	@echo "Wrote .env for development (DEBUG=true, random secrets)."

# The Python side only: the development server needs neither Node nor a browser.
run: $(VENV)/.installed .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --leads $(DEMO_LEADS) --alerts $(DEMO_ALERTS) --if-empty
	@# Pulls leads from Azure every CRF_AZURE_POLL_SECONDS when a URL is set (exits at once if not).
	$(PY) manage.py pull_crf_leads --loop & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# Azurite with a CRF queue and container, for trying the pull locally: prints the .env lines.
azurite: node node_modules/.installed $(VENV)/.installed
	$(PY) -m tests.azurite

# Tests ignore .env (they set what they need); DATABASE_URL and CELERY_BROKER_URL come from the
# environment. SECRET_KEY only needs to exist.
test: install lint
	IGNORE_DOTENV=true SECRET_KEY=$${SECRET_KEY:-tests-only-not-a-secret} $(PY) -m pytest $(PYTEST_ARGS)

# Style and the house's plan, before the tests: ruff (pyproject.toml) and the import contracts
# (import-linter: the apps in layers, leadcrm importing none, no cycle anywhere).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis staticfiles

# Benchmarks (PostgreSQL + Redis on 127.0.0.1): see docs/benchmarks.md
bench-intake: $(VENV)/.installed
	$(PY) bench/intake.py

bench-workspace: $(VENV)/.installed
	$(PY) bench/workspace.py

# Intake, batches and processing against bare baselines (installs wrk if it is missing);
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--rounds 5 --no-fail".
bench: $(VENV)/.installed
	$(PY) bench/compare.py $(BENCH_ARGS)

# The two commands: `make run` (development server with demo data) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_LEADS ?= 300
DEMO_ALERTS ?= 200

.PHONY: run test install clean bench-intake bench-workspace azurite

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Azurite, the Azure Storage emulator the pull tests run against: the version in package-lock.json.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install Azurite (e.g. apt-get install nodejs npm)"; exit 1; }
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

run: install .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --leads $(DEMO_LEADS) --alerts $(DEMO_ALERTS) --if-empty
	@# Pulls leads from Azure every CRF_AZURE_POLL_SECONDS when a URL is set (exits at once if not).
	$(PY) manage.py pull_crf_leads --loop & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

# Azurite with a CRF queue and container, for trying the pull locally: prints the .env lines.
azurite: install
	$(PY) -m tests.azurite

# Tests ignore .env (they set what they need); DATABASE_URL and CELERY_BROKER_URL come from the
# environment. SECRET_KEY only needs to exist.
test: install
	IGNORE_DOTENV=true SECRET_KEY=$${SECRET_KEY:-tests-only-not-a-secret} $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis staticfiles

# Benchmarks (PostgreSQL + Redis on 127.0.0.1): see docs/benchmarks.md
bench-intake: install
	$(PY) bench/intake.py

bench-workspace: install
	$(PY) bench/workspace.py

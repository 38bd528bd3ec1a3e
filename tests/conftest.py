"""A real Celery worker process on the test database, for integration tests."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout: float = 30, interval: float = 0.2, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message or predicate}")


@pytest.fixture(scope="session")
def service_env(django_db_setup) -> dict[str, str]:
    """Environment for a process of ours (worker, web server) on the test database."""
    db = settings.DATABASES["default"]
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "IGNORE_DOTENV": "true",
        "DEBUG": "false",
        "SECRET_KEY": "tests-only-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def celery_worker(service_env):
    from leadcrm.celery import app

    try:
        app.control.purge()  # tasks left by an earlier run point at rows that no longer exist
    except Exception as exc:
        pytest.fail(f"the broker at CELERY_BROKER_URL does not answer: {exc}")
    name = f"tests-{uuid.uuid4().hex[:8]}@localhost"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "leadcrm", "worker", "--hostname", name,
         "--concurrency", "2", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=service_env,
    )

    def ready() -> bool:
        if worker.poll() is not None:
            pytest.fail(f"the celery worker exited with code {worker.returncode}")
        return bool(app.control.ping(destination=[name], timeout=0.5))

    try:
        wait_until(ready, timeout=60, message="the celery worker to answer a ping")
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=20)

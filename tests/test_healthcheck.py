"""The container's health check (`python -m leadcrm.healthcheck`, docker-compose's `web`) against
the production server: Django answers only the hosts in ALLOWED_HOSTS, so the check asks as one."""

import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from .conftest import ROOT, gunicorn


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn as in production (DEBUG off), serving one public host name, on a fresh SQLite."""
    database = tmp_path_factory.mktemp("healthcheck") / "db.sqlite3"
    env = {
        "PATH": os.environ["PATH"],
        "IGNORE_DOTENV": "true",
        "DEBUG": "false",
        "SECRET_KEY": "tests-only-not-a-secret",
        "ALLOWED_HOSTS": "crm.lender.example,127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{database}",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    public = {**env, "ALLOWED_HOSTS": "crm.lender.example"}  # as an operator sets it
    with gunicorn(public, "--access-logfile", "/dev/null") as url:
        yield url, public


def check(url: str, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "leadcrm.healthcheck", url + "/healthz/"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_health_check_passes_against_a_server_that_serves_only_its_public_name(server):
    url, env = server
    with pytest.raises(urllib.error.HTTPError) as plain:  # what the check used to do
        urllib.request.urlopen(url + "/healthz/", timeout=10)
    assert plain.value.code == 400

    assert check(url, env).returncode == 0


def test_the_health_check_fails_when_nothing_answers(server):
    url, env = server
    result = check("http://127.0.0.1:9", env)  # the discard port: nothing listens

    assert result.returncode == 1 and "healthcheck:" in result.stderr

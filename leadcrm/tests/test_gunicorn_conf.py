"""The production web server's settings (gunicorn.conf.py): its access log names no credential.

Runs the real gunicorn from the project directory, where it reads gunicorn.conf.py by itself, as
in the image. No database is needed: the requests are refused before anything is stored.
"""

import base64
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CRS_URL = "/webhooks/crs/alerts/"
CRF_URL = "/webhooks/crf/leads/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def post(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=b"[]", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def basic(credential: str) -> str:
    return "Basic " + base64.b64encode(credential.encode()).decode()


@pytest.fixture
def access_log(tmp_path):
    """Run gunicorn on a free port; `log(requests)` sends them and returns what it logged."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRS_", "CRF_", "CELERY_", "GUNICORN_"))
    }
    env |= {
        "IGNORE_DOTENV": "true",
        "DEBUG": "false",
        "SECRET_KEY": "tests-only-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "leadcrm.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
    ]  # everything else from gunicorn.conf.py

    def log(send) -> str:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while not listening(port):
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "gunicorn did not listen within 60 s"
                time.sleep(0.1)
            send(f"http://127.0.0.1:{port}")
        finally:
            process.terminate()
        return process.communicate(timeout=30)[0]

    return log


def test_the_access_log_leaves_out_basic_credentials_and_secret_headers(access_log):
    def send(url: str) -> None:
        assert post(url + CRS_URL, {"Authorization": basic("crs-user:pw-0123456789")}) == 503
        assert post(url + CRS_URL, {"Authorization": basic("crs-token-without-colon")}) == 503
        assert post(url + CRS_URL, {"Authorization": "Basic raw-credential-not-base64"}) == 503
        assert post(url + CRF_URL, {"X-Api-Key": "crf-secret-value"}) == 503

    log = access_log(send)

    assert log.count(f'"POST {CRS_URL} HTTP/1.1" 503') == 3, log
    assert f'"POST {CRF_URL} HTTP/1.1" 503' in log, log
    for secret in (
        "crs-user",
        "pw-0123456789",
        "crs-token-without-colon",
        "raw-credential-not-base64",
        "crf-secret-value",
    ):
        assert secret not in log
    for credential in ("crs-user:pw-0123456789", "crs-token-without-colon"):
        assert base64.b64encode(credential.encode()).decode() not in log


def test_the_access_log_format_has_no_user_and_no_header_atoms():
    settings: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # what gunicorn itself does with it

    atoms = re.findall(r"%\((.*?)\)s", settings["access_log_format"])
    assert "u" not in atoms
    assert not [atom for atom in atoms if atom.startswith("{")]  # request/response headers, environ
    assert settings["accesslog"] == "-"

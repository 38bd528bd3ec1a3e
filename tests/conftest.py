"""A real Celery worker process on the test database, for integration tests."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
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


@contextmanager
def running(command: list[str], env: dict[str, str], ready, what: str, output=None):
    """A process of ours, started, waited for until `ready()`, and always stopped. `output`: an
    open file its stdout and stderr go to (to read its log), else the test run's own."""
    streams = {"stdout": output, "stderr": subprocess.STDOUT} if output else {}
    process = subprocess.Popen(command, cwd=ROOT, env=env, **streams)

    def up() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with code {process.returncode}")
        return ready()

    try:
        wait_until(up, timeout=60, message=f"{what} to answer")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def kill_with_children(process: subprocess.Popen) -> None:
    """SIGKILL a process and its children at once (a Celery worker and its pool), as a lost
    host or the OOM killer would: nothing of theirs runs a cleanup."""
    pids = [process.pid, *children_of(process.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (name) state ppid …": the name may hold spaces, so split after its ")".
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="session")
def worker_mail_dir(tmp_path_factory) -> Path:
    """Where our processes' email goes: Django's file backend, one file per connection."""
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="session")
def service_env(django_db_setup, worker_mail_dir) -> dict[str, str]:
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
        # django-environ drops one leading slash from the path: four make it absolute.
        "EMAIL_URL": f"filemail:///{worker_mail_dir}",
    }


@pytest.fixture(scope="session")
def celery_worker(service_env):
    from leadcrm.celery import app

    try:
        app.control.purge()  # tasks left by an earlier run point at rows that no longer exist
    except Exception as exc:
        pytest.fail(f"the broker at CELERY_BROKER_URL does not answer: {exc}")
    name = f"tests-{uuid.uuid4().hex[:8]}@localhost"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "leadcrm",
        "worker",
        "--hostname",
        name,
        "--concurrency",
        "2",
        "--loglevel",
        "WARNING",
        "--without-mingle",
        "--without-gossip",
    ]

    def ping() -> bool:
        return bool(app.control.ping(destination=[name], timeout=0.5))

    with running(command, service_env, ping, "the celery worker") as worker:
        yield worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], *options: str):
    """The production web server on a free port, answering once /healthz/ does (a 503 too: a
    broker may be down on purpose). Yields its base URL."""
    url = f"http://127.0.0.1:{(port := free_port())}"

    def answers() -> bool:
        try:
            urllib.request.urlopen(url + "/healthz/", timeout=5)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "leadcrm.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--log-level",
        "warning",
        *options,
    ]
    with running(command, env, answers, "gunicorn"):
        yield url

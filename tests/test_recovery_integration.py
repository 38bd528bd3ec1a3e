"""Recovery after a broker outage, measured on a Redis of the test's own, stopped and started
again under a running gunicorn, Celery worker and beat: every lead received meanwhile is queued
once and drained at the worker's full rate."""

import json
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
from django.db.models import Max, Min
from django.utils import timezone

from conftest import CRF_URL
from leads.models import LeadDelivery

from .conftest import free_port, gunicorn, running, wait_until
from .test_crf_intake_integration import post

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LEADS = 500
SWEEP_SECONDS = 1
DRAIN_SECONDS = 30  # from the broker's return to the last lead processed, on 2 cores
MAX_QUEUE_FACTOR = 2  # the queue never holds more than this many tasks per pending lead
SECRET = "recovery-secret"


class RedisServer:
    """A redis-server of the test's own on `port`, stopped and started at will; nothing persisted,
    so a restart is an empty broker, as after a crash."""

    def __init__(self, port: int, directory: Path):
        self.port, self.directory = port, directory
        self.client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or pytest.fail("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--loglevel",
                "warning",
            ],
        )
        wait_until(self.answers, timeout=10, interval=0.02, message="redis-server to answer")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.client.connection_pool.disconnect()

    def answers(self) -> bool:
        try:
            return self.client.ping()
        except redis.ConnectionError:
            return False

    def consumes(self) -> bool:
        """A worker is waiting on the queue (its BRPOP)."""
        return any(client["cmd"] == "brpop" for client in self.client.client_list())

    def queue_length(self) -> int:
        return self.client.llen("celery")  # tasks waiting, not those a worker has taken

    def published(self) -> int:
        """Messages put on any queue since this server started (one LPUSH each)."""
        return self.client.info("commandstats").get("cmdstat_lpush", {}).get("calls", 0)


@contextmanager
def stack_on(redis: "RedisServer", env: dict[str, str], directory: Path):
    """gunicorn (2 workers), a Celery worker (concurrency 2) and beat, all on our Redis."""
    env = {
        **env,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
        "LEAD_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "CRF_WEBHOOK_SECRET": SECRET,
    }
    schedule = directory / "beat-schedule"
    celery = [sys.executable, "-m", "celery", "-A", "leadcrm"]
    with ExitStack() as stack:
        url = stack.enter_context(gunicorn(env, "--access-logfile", "/dev/null"))
        stack.enter_context(
            running(
                [
                    *celery,
                    "worker",
                    "--hostname",
                    "recovery@localhost",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "WARNING",
                    "--without-mingle",
                    "--without-gossip",
                ],
                env,
                redis.consumes,
                "the celery worker",
            )
        )
        stack.enter_context(
            running(
                [*celery, "beat", "--schedule", str(schedule), "--loglevel", "WARNING"],
                env,
                lambda: any(directory.glob("beat-schedule*")),
                "celery beat",
            )
        )
        yield url


def processed() -> int:
    return LeadDelivery.objects.filter(outcome="processed").count()


def seconds_after(moment: datetime, then: datetime | None) -> float | None:
    return round((then - moment).total_seconds(), 2) if then else None


def test_leads_received_while_the_broker_is_down_are_all_processed_within_30_s_of_its_return(
    service_env, tmp_path, sample_lead
):
    broker = RedisServer(free_port(), tmp_path)
    broker.start()
    try:
        with stack_on(broker, service_env, tmp_path) as url:
            broker.stop()
            stopped = time.monotonic()
            bodies = [
                json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode() for _ in range(LEADS)
            ]
            with ThreadPoolExecutor(max_workers=4) as pool:
                answered = list(pool.map(lambda body: post(url + CRF_URL, body, SECRET)[0], bodies))
            assert answered == [202] * LEADS
            assert LeadDelivery.objects.filter(outcome="pending").count() == LEADS

            returned, outage = timezone.now(), time.monotonic() - stopped
            broker.start()
            longest = 0
            deadline = time.monotonic() + DRAIN_SECONDS
            while processed() < LEADS and time.monotonic() < deadline:
                longest = max(longest, broker.queue_length())
                time.sleep(0.05)
            published = broker.published()
    finally:
        broker.stop()

    times = LeadDelivery.objects.aggregate(first=Min("processed_at"), last=Max("processed_at"))
    in_time = LeadDelivery.objects.filter(
        outcome="processed", processed_at__lte=returned + timedelta(seconds=DRAIN_SECONDS)
    ).count()
    print(
        f"\n{LEADS} leads received in a broker outage of {outage:.1f} s; after its return: "
        f"first processed at {seconds_after(returned, times['first'])} s, "
        f"last at {seconds_after(returned, times['last'])} s, {in_time} within {DRAIN_SECONDS} s; "
        f"longest queue {longest} tasks; {published} messages published"
    )
    assert in_time == LEADS
    assert (times["last"] - returned).total_seconds() <= DRAIN_SECONDS
    assert longest <= MAX_QUEUE_FACTOR * LEADS


def sessions_opened() -> int:
    """Connections ever opened to the test database (PostgreSQL's statistics, flushed within a
    second or so of each one's opening)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_the_worker_keeps_its_database_connection_from_one_lead_to_the_next(
    celery_worker, sample_lead
):
    from leads.intake import services

    time.sleep(2)  # the worker's own start, counted
    before = sessions_opened()
    for _ in range(40):
        services.receive_lead(json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode())
    wait_until(lambda: processed() == 40, message="the worker to process 40 leads")
    time.sleep(2)

    # Two pool processes, and this test's own: not one connection per lead.
    assert sessions_opened() - before <= 5


def test_a_worker_whose_database_connections_were_cut_processes_the_next_leads(
    celery_worker, sample_lead
):
    from django.db import connection

    from leads.intake import services

    def receive(count: int) -> None:
        for _ in range(count):
            services.receive_lead(json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode())

    receive(4)
    wait_until(lambda: processed() == 4, message="the worker to process 4 leads")
    with connection.cursor() as cursor:  # as a database restart would
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    receive(4)

    wait_until(lambda: processed() == 8, message="the worker to process 4 more leads")
    assert not LeadDelivery.objects.exclude(outcome="processed").exists()

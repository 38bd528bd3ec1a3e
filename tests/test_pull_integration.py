"""Pulling from Azurite with real concurrency: `manage.py pull_crf_leads` processes on the
PostgreSQL test database, side by side or killed midway, and a real worker applying the leads."""

import base64
import json
import subprocess
import sys
import time
import uuid

import pytest
from django.db.models import Count

from leads.choices import DeliveryOutcome, DeliverySource
from leads.models import Lead, LeadDelivery, PulledBlob, PullRun

from .azurite import ROOT
from .conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE, BLOB = DeliverySource.AZURE_QUEUE, DeliverySource.AZURE_BLOB
MESSAGES, BLOBS = 500, 200
PULLER_TIMEOUT = 300  # seconds; a pull of these sizes takes a few on two cores


@pytest.fixture
def queue(azurite):
    client = azurite.new_queue()
    yield client
    client.delete_queue()


@pytest.fixture
def container(azurite):
    client = azurite.new_container()
    yield client
    client.delete_container()


@pytest.fixture
def puller_env(service_env, azurite, queue, container) -> dict[str, str]:
    """What a lender's .env holds: CRF-style queue URL with read + process, container with
    read + list + delete."""
    return {
        **service_env,
        "CRF_AZURE_QUEUE_URL": azurite.queue_sas_url(queue.queue_name, "rp", crf_style=True),
        "CRF_AZURE_BLOB_URL": azurite.container_sas_url(container.container_name, "rld"),
        "CRF_AZURE_ALLOWED_HOSTS": "127.0.0.1",
        "CRF_AZURE_BLOB_DELETE": "true",
        "CRF_AZURE_VISIBILITY_TIMEOUT": "30",
    }


def lead_body(sample_lead: dict, lead_id: str) -> bytes:
    return json.dumps({**sample_lead, "id": lead_id}).encode()


def fill_queue(queue, sample_lead: dict, count: int) -> set[str]:
    """`count` leads, every fifth one base64-encoded as older Azure SDKs send them."""
    ids = {str(uuid.uuid4()) for _ in range(count)}
    for i, lead_id in enumerate(sorted(ids)):
        body = lead_body(sample_lead, lead_id)
        queue.send_message(base64.b64encode(body).decode() if i % 5 == 0 else body.decode())
    return ids


def fill_container(container, sample_lead: dict, count: int) -> set[str]:
    """`count` blobs: one lead each, every tenth a JSON array of three."""
    ids = set()
    for i in range(count):
        batch = [str(uuid.uuid4()) for _ in range(3 if i % 10 == 0 else 1)]
        bodies = [lead_body(sample_lead, lead_id) for lead_id in batch]
        data = b"[" + b",".join(bodies) + b"]" if len(bodies) > 1 else bodies[0]
        container.upload_blob(f"leads/{i:04}.json", data)
        ids.update(batch)
    return ids


def start_puller(env: dict[str, str], *args: str) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "pull_crf_leads", *args]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(puller: subprocess.Popen) -> str:
    try:
        output, _ = puller.communicate(timeout=PULLER_TIMEOUT)
    finally:
        puller.kill()  # a no-op once it has exited
    assert puller.returncode == 0, output
    return output


def stored_lead_ids(source: str) -> list[str]:
    stored = LeadDelivery.objects.filter(source=source).values_list("lead_id", flat=True)
    return [str(lead_id) for lead_id in stored]


def no_lead_stored_twice() -> bool:
    doubles = LeadDelivery.objects.values("lead_id").annotate(n=Count("id")).filter(n__gt=1)
    return not doubles.exists()


def all_processed() -> bool:
    return not LeadDelivery.objects.exclude(outcome=DeliveryOutcome.PROCESSED).exists()


def left_in(queue) -> int:
    return queue.get_queue_properties().approximate_message_count


def test_two_concurrent_pullers_take_500_messages_and_200_blobs_exactly_once(
    queue, container, puller_env, celery_worker, sample_lead
):
    from_queue = fill_queue(queue, sample_lead, MESSAGES)
    from_blobs = fill_container(container, sample_lead, BLOBS)

    pullers = [start_puller(puller_env) for _ in range(2)]
    for puller in pullers:
        finish(puller)

    assert sorted(stored_lead_ids(QUEUE)) == sorted(from_queue)
    assert sorted(stored_lead_ids(BLOB)) == sorted(from_blobs)
    assert no_lead_stored_twice()
    assert left_in(queue) == 0 and list(container.list_blobs()) == []
    assert PulledBlob.objects.filter(deleted_at__isnull=False).count() == BLOBS
    runs = PullRun.objects.all()
    assert runs.count() == 4 and not runs.exclude(error="").exists()
    assert sum(run.taken for run in runs if run.source == QUEUE) == MESSAGES
    assert sum(run.taken for run in runs if run.source == BLOB) == len(from_blobs)
    # The worker applies every lead once: one lead row and one history entry each.
    wait_until(all_processed, timeout=180, message="the worker to process every pulled delivery")
    assert Lead.objects.count() == MESSAGES + len(from_blobs)
    assert not Lead.objects.annotate(n=Count("status_changes")).exclude(n=1).exists()


def test_a_puller_killed_midway_leaves_the_rest_for_after_the_visibility_timeout(
    queue, puller_env, celery_worker, sample_lead
):
    visibility_timeout = 20  # longer than the next puller needs for the visible rest
    env = {**puller_env, "CRF_AZURE_VISIBILITY_TIMEOUT": str(visibility_timeout)}
    expected = fill_queue(queue, sample_lead, MESSAGES)

    victim = start_puller(env, "--queue")
    try:
        # Killed in the middle of a page of 32: it holds messages received and not yet stored.
        wait_until(
            lambda: mid_page(len(stored_lead_ids(QUEUE))),
            timeout=120,
            interval=0.005,
            message="the first puller to be in the middle of a page",
        )
    finally:
        victim.kill()  # SIGKILL: no cleanup, whatever it held stays held
        victim.wait()
    killed_at = time.monotonic()
    taken_by_victim = len(stored_lead_ids(QUEUE))
    assert PullRun.objects.get().finished_at is None  # the admin shows "did not finish"

    finish(start_puller(env, "--queue"))  # at once: the visible rest, not what the victim held
    taken_at_once = len(stored_lead_ids(QUEUE))
    time.sleep(max(0.0, killed_at + visibility_timeout + 1 - time.monotonic()))
    finish(start_puller(env, "--queue"))  # the visibility timeout is over: the held ones are back

    assert taken_by_victim < taken_at_once < MESSAGES
    assert sorted(stored_lead_ids(QUEUE)) == sorted(expected)
    assert no_lead_stored_twice()
    assert left_in(queue) == 0
    runs = list(PullRun.objects.order_by("started_at"))
    assert taken_by_victim + sum(run.taken for run in runs[1:]) == MESSAGES
    wait_until(all_processed, timeout=180, message="the worker to process every pulled delivery")
    assert Lead.objects.count() == MESSAGES


def mid_page(stored: int) -> bool:
    return stored >= 100 and 8 <= stored % 32 <= 24

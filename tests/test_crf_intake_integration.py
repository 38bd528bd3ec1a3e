"""CRF intake on PostgreSQL with a real Celery worker on Redis: concurrency and broker outages."""

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import CRF_URL
from leads.choices import Status
from leads.intake.tasks import sweep_lead_deliveries
from leads.models import Lead, LeadDelivery, StatusChange

from .conftest import free_port, gunicorn, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def post(url: str, body: bytes, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"X-Api-Key": secret, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def all_processed() -> bool:
    return not LeadDelivery.objects.filter(outcome__in=["pending", "failed"]).exists()


def history_of(lead: Lead) -> list[tuple[str, str, int]]:
    return list(lead.status_changes.values_list("from_status", "to_status", "delivery_id"))


def expected_history(deliveries) -> list[tuple[str, str, int]]:
    changes, previous = [], ""
    for delivery in deliveries:
        if delivery.status != previous:
            changes.append((previous, delivery.status, delivery.pk))
        previous = delivery.status
    return changes


@pytest.fixture
def send(service_env):
    """POST a body, with the secret, to the CRF webhook of the production web server with 32
    threads (2 workers of 16): a partner's concurrent re-sends reach the database together, and
    none is turned away at the door. Django's test server listens with a backlog of 10 and
    reset some of 32 connections made at once."""
    env = {**service_env, "CRF_WEBHOOK_SECRET": "concurrent-secret"}
    options = ["--worker-class", "gthread", "--threads", "16", "--access-logfile", "/dev/null"]
    with gunicorn(env, *options) as url:
        yield lambda body: post(url + CRF_URL, body, "concurrent-secret")


def test_twenty_concurrent_updates_of_one_lead_end_in_the_newest_state(
    send, celery_worker, sample_lead
):
    statuses = list(Status.values)
    bodies = [
        json.dumps(
            {**sample_lead, "status": statuses[i % len(statuses)], "otherReasonText": f"#{i}"}
        ).encode()
        for i in range(20)
    ]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, bodies))

    assert [status for status, _ in answers] == [202] * 20
    wait_until(all_processed, message="the worker to process 20 deliveries")
    lead = Lead.objects.get()
    deliveries = list(LeadDelivery.objects.order_by("id"))
    assert len(deliveries) == 20
    assert lead.applied_delivery_id == deliveries[-1].pk
    assert lead.status == deliveries[-1].status
    assert history_of(lead) == expected_history(deliveries)


def test_a_hundred_concurrent_identical_deliveries_are_stored_once(
    send, celery_worker, sample_lead
):
    body = json.dumps(sample_lead).encode()
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda _: send(body), range(100)))

    assert {status for status, _ in answers} == {202}
    assert len({answer["delivery"] for _, answer in answers}) == 1
    wait_until(all_processed, message="the worker to process the delivery")
    assert (Lead.objects.count(), LeadDelivery.objects.count(), StatusChange.objects.count()) == (
        1,
        1,
        1,
    )


@pytest.fixture
def server_without_broker(service_env):
    """The production web server, its broker unreachable (a port nothing listens on)."""
    env = {
        **service_env,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "CRF_WEBHOOK_SECRET": "outage-secret",
    }
    with gunicorn(env) as url:
        yield url


def test_with_the_broker_down_webhooks_answer_fast_and_the_sweep_catches_up(
    server_without_broker, celery_worker, sample_lead
):
    leads = [{**sample_lead, "id": f"00000000-0000-4000-8000-{i:012d}"} for i in range(10)]
    for lead in leads:
        started = time.monotonic()
        status, answer = post(
            server_without_broker + CRF_URL, json.dumps(lead).encode(), "outage-secret"
        )
        assert status == 202, answer
        assert time.monotonic() - started < 1.0

    assert LeadDelivery.objects.filter(outcome="pending").count() == 10
    with pytest.raises(urllib.error.HTTPError) as health:
        urllib.request.urlopen(server_without_broker + "/healthz/", timeout=5)
    assert json.loads(health.value.read())["broker"] == "unavailable"

    # The broker is back (this process's broker is the real one): the periodic sweep runs.
    LeadDelivery.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    sweep_lead_deliveries.delay()

    wait_until(all_processed, message="the sweep and the worker to process 10 deliveries")
    assert Lead.objects.count() == 10
    assert StatusChange.objects.count() == 10

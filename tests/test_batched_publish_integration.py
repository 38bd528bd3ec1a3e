"""The web server's publishing thread (leadcrm/enqueue.py), under gunicorn on a Redis of the
test's own: leads posted together leave in fewer messages than leads, each lead in exactly one,
every delivery claimed; with the broker down, each claim is given back before the answer."""

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_client

from conftest import CRF_URL
from leads.models import LeadDelivery

from .conftest import free_port, gunicorn, wait_until
from .test_crf_intake_integration import post
from .test_recovery_integration import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LEADS = 60
SECRET = "batched-secret"


def messages(port: int) -> list[dict]:
    """The tasks waiting in the queue, as Celery wrote them (nothing consumes them here)."""
    raw = redis_client.Redis(port=port).lrange("celery", 0, -1)
    found = []
    for message in map(json.loads, raw):
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, _, _ = json.loads(body)
        found.append({"task": message["headers"]["task"], "args": args})
    return found


def test_leads_posted_together_are_queued_in_fewer_messages_each_lead_once(
    service_env, tmp_path, sample_lead
):
    broker = RedisServer(free_port(), tmp_path)
    broker.start()
    env = {
        **service_env,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{broker.port}/0",
        "CRF_WEBHOOK_SECRET": SECRET,
    }
    bodies = [json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode() for _ in range(LEADS)]
    try:
        with gunicorn(env) as url:
            with ThreadPoolExecutor(max_workers=12) as pool:
                answers = list(pool.map(lambda body: post(url + CRF_URL, body, SECRET), bodies))
            assert [status for status, _ in answers] == [202] * LEADS
            posted = {answer["id"] for _, answer in answers}
            wait_until(
                lambda: sum(len(m["args"][0]) for m in messages(broker.port)) >= LEADS,
                timeout=10,
                interval=0.05,
                message="every lead to be published",
            )
            queued = messages(broker.port)
    finally:
        broker.stop()

    print(f"\n{LEADS} leads posted by 12 threads went out in {len(queued)} messages")
    assert {m["task"] for m in queued} == {"leads.tasks.process_leads"}
    leads = [lead_id for m in queued for lead_id in m["args"][0]]
    assert sorted(leads) == sorted(posted), "each lead in exactly one message"
    assert len(queued) < LEADS
    assert not LeadDelivery.objects.filter(queued_at=None).exists(), "every delivery claimed"


def test_with_the_broker_down_each_claim_is_given_back_before_the_answer(service_env, sample_lead):
    """So that a sweep run once the webhooks have answered queues every one of them."""
    env = {
        **service_env,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "CRF_WEBHOOK_SECRET": SECRET,
    }
    with gunicorn(env) as url:
        for _ in range(5):
            body = json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode()
            assert post(url + CRF_URL, body, SECRET)[0] == 202
            assert not LeadDelivery.objects.exclude(queued_at=None).exists(), "still claimed"

    assert LeadDelivery.objects.filter(outcome="pending").count() == 5

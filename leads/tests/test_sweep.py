"""The sweep and the claims that let it queue each due lead once (leads.services, leads.tasks).

Tasks go to kombu's in-memory broker here (or to a port nothing listens on), not run in-process,
so a test can see what was queued, and how often.
"""

import io
import json
import socket
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from leads.intake import services, tasks
from leads.models import LeadDelivery

pytestmark = pytest.mark.django_db


@contextmanager
def broker_at(url: str):
    """Publish to `url` instead of running tasks in-process."""
    from leadcrm.celery import app

    # CELERY_TASK_ALWAYS_EAGER by the name the settings gave it: Celery reads that one first.
    saved = app.conf.broker_write_url, app.conf.CELERY_TASK_ALWAYS_EAGER
    app.conf.broker_write_url, app.conf.CELERY_TASK_ALWAYS_EAGER = url, False
    forget_connections(app)
    try:
        yield app
    finally:
        app.conf.broker_write_url, app.conf.CELERY_TASK_ALWAYS_EAGER = saved
        forget_connections(app)


def forget_connections(app) -> None:
    # The app keeps its broker's connection and producer pools; Celery drops them the same way
    # in a forked worker.
    app._pool = None
    app.amqp._producer_pool = None


class Queue:
    def __init__(self, app):
        self.app = app

    def take(self) -> list[uuid.UUID]:
        """The leads of the tasks waiting in the queue, taken off it."""
        leads = []
        with self.app.connection_for_write() as connection:
            channel = connection.default_channel
            while (message := channel.basic_get("celery", no_ack=True)) is not None:
                args, _, _ = message.decode()
                if message.headers["task"] == tasks.process_leads.name:  # the intake's
                    leads.extend(uuid.UUID(lead_id) for lead_id in args[0])
                else:
                    assert message.headers["task"] == tasks.process_lead_deliveries.name
                    leads.append(uuid.UUID(args[0]))
        return leads


@pytest.fixture
def queue():
    """A broker that keeps the tasks (kombu's in-memory transport), and what it holds."""
    with broker_at("memory://localhost/") as app:
        waiting = Queue(app)
        waiting.take()  # left by an earlier test
        yield waiting


@pytest.fixture
def broker_down():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free, and nothing listens on it once closed
    with broker_at(f"redis://127.0.0.1:{port}/0"):
        yield


@pytest.fixture
def receive(sample_lead, django_capture_on_commit_callbacks):
    """Receive a lead as the webhook does, its task published after the commit."""

    def receive_one(**changes) -> LeadDelivery:
        body = json.dumps({**sample_lead, "id": str(uuid.uuid4()), **changes}).encode()
        with django_capture_on_commit_callbacks(execute=True):
            delivery = services.receive_lead(body).delivery
        delivery.refresh_from_db()
        return delivery

    return receive_one


def unclaimed(delivery: LeadDelivery, **changes) -> LeadDelivery:
    """As if its publish had failed: not queued (or queued when `queued_at` says)."""
    LeadDelivery.objects.filter(pk=delivery.pk).update(**{"queued_at": None, **changes})
    delivery.refresh_from_db()
    return delivery


def sweep() -> int:
    return tasks.sweep_lead_deliveries.apply().get()  # in this process, as a worker runs it


def test_a_received_lead_is_queued_once_and_the_sweep_leaves_it_to_that_task(queue, receive):
    delivery = receive()

    assert delivery.queued_at is not None
    assert queue.take() == [delivery.lead_id]
    assert sweep() == 0
    assert queue.take() == []


def test_a_second_sweep_queues_nothing_while_the_first_ones_tasks_wait(queue, receive):
    first, second = receive(), receive()
    queue.take()
    for delivery in (first, second):
        unclaimed(delivery, received_at=timezone.now() - timedelta(hours=1))

    assert sweep() == 2
    assert sweep() == 0
    assert sorted(queue.take()) == sorted([first.lead_id, second.lead_id])


def test_a_lead_with_several_due_deliveries_is_queued_once(queue, receive):
    lead_id = str(uuid.uuid4())
    for status in ("Reviewed", "Contacted", "Funded"):
        unclaimed(receive(id=lead_id, status=status))
    queue.take()

    assert sweep() == 1
    assert queue.take() == [uuid.UUID(lead_id)]


def test_a_claim_older_than_the_requeue_timeout_is_queued_again(queue, receive):
    lost, waiting = receive(), receive()
    queue.take()  # the broker restarted empty
    timeout = timedelta(seconds=settings.LEAD_REQUEUE_SECONDS)
    unclaimed(lost, queued_at=timezone.now() - timeout - timedelta(seconds=1))
    unclaimed(waiting, queued_at=timezone.now() - timeout + timedelta(seconds=30))

    assert sweep() == 1
    assert queue.take() == [lost.lead_id]
    assert sweep() == 0  # queued again, claimed again


def test_the_requeue_timeout_outlasts_a_running_task_and_follows_the_sweep_interval():
    assert settings.LEAD_REQUEUE_SECONDS > settings.CELERY_TASK_TIME_LIMIT
    assert settings.LEAD_REQUEUE_SECONDS > settings.LEAD_SWEEP_SECONDS
    sweep_seconds = settings.CELERY_BEAT_SCHEDULE["sweep-lead-deliveries"]["schedule"]
    assert sweep_seconds == settings.LEAD_SWEEP_SECONDS


def test_a_sweep_interval_under_a_second_fails_at_start_up():
    from leadcrm.tests.test_settings import PRODUCTION, manage

    result = manage("check", **{**PRODUCTION, "LEAD_SWEEP_SECONDS": "0"})

    assert result.returncode != 0
    assert "LEAD_SWEEP_SECONDS must be at least 1" in result.stderr


def test_the_claims_timeout_is_read_from_the_settings(queue, receive, settings):
    settings.LEAD_REQUEUE_SECONDS = 60
    delivery = receive()
    queue.take()
    unclaimed(delivery, queued_at=timezone.now() - timedelta(seconds=61))

    assert sweep() == 1


def test_a_failed_publish_releases_the_claim_and_the_next_sweep_queues_the_lead_at_once(
    receive, broker_down
):
    delivery = receive()

    assert (delivery.outcome, delivery.queued_at) == ("pending", None)
    with broker_at("memory://localhost/") as app:
        Queue(app).take()
        assert sweep() == 1
        assert Queue(app).take() == [delivery.lead_id]


def test_a_sweep_that_cannot_publish_releases_every_claim_it_made(receive, broker_down):
    deliveries = [receive() for _ in range(3)]

    assert sweep() == 0
    assert LeadDelivery.objects.filter(queued_at__isnull=False).count() == 0
    assert {d.outcome for d in deliveries} == {"pending"}


def test_a_failed_publish_keeps_a_claim_made_since(queue, receive):
    delivery = receive()
    lead_id = str(delivery.lead_id)
    newer = receive(id=lead_id, status="Contacted")  # queued, its task waiting
    claimed_then = timezone.now() - timedelta(seconds=5)
    unclaimed(delivery, queued_at=claimed_then)

    services._release([delivery.lead_id], claimed_then)

    assert LeadDelivery.objects.get(pk=delivery.pk).queued_at is None
    assert LeadDelivery.objects.get(pk=newer.pk).queued_at == newer.queued_at


def test_processing_releases_the_claim(queue, receive):
    delivery = receive()
    services.process_lead(delivery.lead_id)

    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.queued_at) == ("processed", None)
    queue.take()
    assert sweep() == 0  # processed: not due, claimed or not


def test_a_failed_attempt_releases_the_claim_and_the_sweep_queues_the_retry_when_due(
    queue, receive
):
    from django.db import OperationalError, connection

    def fail_lead_updates(execute, sql, params, many, context):
        if sql.startswith(('INSERT INTO "leads_lead" ', 'UPDATE "leads_lead" ')):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    delivery = receive()
    queue.take()
    with connection.execute_wrapper(fail_lead_updates):
        services.process_lead(delivery.lead_id)
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.queued_at) == ("failed", None)

    assert sweep() == 0  # its retry is not due yet
    LeadDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert sweep() == 1
    assert sweep() == 0
    assert queue.take() == [delivery.lead_id]


def test_rejected_and_processed_deliveries_are_never_queued(queue, receive):
    processed = receive()
    services.process_lead(processed.lead_id)
    services.receive_lead(b"not json")
    LeadDelivery.objects.update(queued_at=None)
    queue.take()

    assert sweep() == 0


def test_a_sweep_queues_at_most_its_limit_and_the_next_one_the_rest(queue, receive):
    deliveries = [unclaimed(receive()) for _ in range(5)]
    queue.take()

    assert services.queue_due_leads(limit=3) == 3
    assert services.queue_due_leads(limit=3) == 2
    assert sorted(queue.take()) == sorted(d.lead_id for d in deliveries)


def test_reprocessing_from_the_admin_queues_each_lead_once(
    queue, receive, admin_client, django_capture_on_commit_callbacks
):
    delivery = receive()
    services.process_lead(delivery.lead_id)
    queue.take()
    changelist = reverse("admin:leads_leaddelivery_changelist")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "reprocess", "_selected_action": [delivery.pk]})

    assert queue.take() == [delivery.lead_id]
    assert sweep() == 0
    services.process_lead(delivery.lead_id)
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.queued_at) == ("processed", None)


def test_reprocessing_from_the_admin_with_the_broker_down_leaves_the_lead_to_the_sweep(
    receive, admin_client, django_capture_on_commit_callbacks, broker_down
):
    delivery = receive()
    LeadDelivery.objects.filter(pk=delivery.pk).update(outcome="failed", next_attempt_at=None)
    changelist = reverse("admin:leads_leaddelivery_changelist")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "reprocess", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.queued_at) == ("pending", None)
    with broker_at("memory://localhost/") as app:
        Queue(app).take()
        assert sweep() == 1


def test_the_reprocess_command_processes_claimed_deliveries_and_leaves_no_claim(queue, receive):
    delivery = receive()
    LeadDelivery.objects.filter(pk=delivery.pk).update(outcome="failed", error="boom")

    call_command("reprocess_deliveries", "--failed", stdout=io.StringIO(), stderr=io.StringIO())

    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.queued_at) == ("processed", None)

"""Processing stored deliveries: order, idempotency, failures and the sweep (leads.services)."""

import json
import uuid

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from leads.intake import services, tasks
from leads.models import Lead, LeadDelivery

pytestmark = pytest.mark.django_db


def receive(sample_lead, **changes) -> LeadDelivery:
    return services.receive_lead(json.dumps({**sample_lead, **changes}).encode()).delivery


LEAD_WRITES = ('INSERT INTO "leads_lead" ', 'UPDATE "leads_lead" ')


def fail_lead_updates(execute, sql, params, many, context):
    if sql.startswith(LEAD_WRITES):  # a new lead's INSERT, an update's UPDATE
        raise OperationalError("server closed the connection unexpectedly")
    return execute(sql, params, many, context)


def test_processing_twice_changes_nothing(sample_lead):
    delivery = receive(sample_lead)
    assert services.process_lead(delivery.lead_id) == 1
    assert services.process_lead(delivery.lead_id) == 0

    lead = Lead.objects.get()
    assert lead.status_changes.count() == 1
    assert LeadDelivery.objects.get().attempts == 1


def test_an_older_delivery_processed_late_never_overwrites_newer_state(sample_lead):
    older = receive(sample_lead, status="Reviewed", nameOfBusiness="Old Name LLC")
    newer = receive(sample_lead, status="Contacted", nameOfBusiness="New Name LLC")
    # The newer one is processed first, as if the older one's transaction committed late.
    LeadDelivery.objects.filter(pk=older.pk).update(outcome="failed")
    services.process_lead(newer.lead_id)
    LeadDelivery.objects.filter(pk=older.pk).update(outcome="pending")

    services.process_lead(older.lead_id)

    lead = Lead.objects.get()
    assert (lead.status, lead.name_of_business) == ("Contacted", "New Name LLC")
    assert lead.applied_delivery_id == newer.pk
    history = list(lead.status_changes.values_list("from_status", "to_status"))
    assert history == [("", "Reviewed"), ("Reviewed", "Contacted")]


def test_a_failure_is_recorded_on_the_delivery_and_retried_with_backoff(sample_lead):
    delivery = receive(sample_lead)
    with connection.execute_wrapper(fail_lead_updates):
        assert services.process_lead(delivery.lead_id) == 0

    delivery.refresh_from_db()
    assert delivery.outcome == "failed"
    assert "server closed the connection" in delivery.error
    assert delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now()
    assert not Lead.objects.exists()  # the whole attempt rolled back

    LeadDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert services.claim_due_leads(timezone.now()) == [delivery.lead_id]
    services.process_lead(delivery.lead_id)
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.error, delivery.attempts) == ("processed", "", 2)


def test_backoff_doubles_and_then_gives_up_for_a_person_to_look(sample_lead):
    delivery = receive(sample_lead)
    waits = []
    for _ in range(services.MAX_ATTEMPTS):
        LeadDelivery.objects.filter(pk=delivery.pk).update(outcome="failed")
        with connection.execute_wrapper(fail_lead_updates):
            services.process_lead(delivery.lead_id)
        delivery.refresh_from_db()
        waits.append(
            delivery.next_attempt_at
            and round((delivery.next_attempt_at - timezone.now()).total_seconds() / 60)
        )

    assert waits == [1, 2, 4, 8, 16, 32, 64, None]
    assert delivery.outcome == "failed"
    assert services.claim_due_leads(timezone.now()) == []


def test_the_sweep_takes_a_pending_delivery_not_queued_at_once_and_leaves_a_queued_one(sample_lead):
    queued = receive(sample_lead)  # its task published (claimed as it was stored)
    not_queued = receive({**sample_lead, "id": str(uuid.uuid4())})
    LeadDelivery.objects.filter(pk=not_queued.pk).update(queued_at=None)  # its publish failed

    assert services.claim_due_leads(timezone.now()) == [not_queued.lead_id]
    assert queued.queued_at is not None


def test_the_sweep_task_processes_what_it_finds(sample_lead):
    delivery = receive(sample_lead)
    LeadDelivery.objects.filter(pk=delivery.pk).update(queued_at=None)

    assert tasks.sweep_lead_deliveries.delay().get() == 1  # in-process: no broker in unit tests

    assert LeadDelivery.objects.get().outcome == "processed"
    assert Lead.objects.get().status == "Matched"


def test_reprocessing_skips_rejected_deliveries_and_is_idempotent(sample_lead):
    good = receive(sample_lead)
    services.receive_lead(b"not json")
    services.process_lead(good.lead_id)

    done = services.reprocess(LeadDelivery.objects.all(), now=True)
    assert (done.leads, done.rejected, done.deliveries, done.still_failed) == (1, 1, 1, 0)

    assert LeadDelivery.objects.get(pk=good.pk).outcome == "processed"
    assert LeadDelivery.objects.filter(outcome="rejected").count() == 1
    assert Lead.objects.get().status_changes.count() == 1


def test_reprocessing_here_counts_what_it_processed_and_what_failed_again(sample_lead):
    first, second = receive(sample_lead), receive(sample_lead, id=str(uuid.uuid4()))
    services.receive_lead(b"not json")
    for delivery in (first, second):
        services.process_lead(delivery.lead_id)
    seen = []

    def progress(lead_ids):
        seen.extend(lead_ids)
        return lead_ids

    with connection.execute_wrapper(fail_lead_updates):
        failing = services.reprocess(LeadDelivery.objects.all(), now=True, progress=progress)
    again = services.reprocess(LeadDelivery.objects.filter(outcome="failed"), now=True)

    assert failing == services.Reprocessed(leads=2, rejected=1, deliveries=0, still_failed=2)
    assert sorted(seen) == sorted([first.lead_id, second.lead_id])
    assert again == services.Reprocessed(leads=2, rejected=0, deliveries=2, still_failed=0)
    assert LeadDelivery.objects.filter(attempts=1, outcome="processed").count() == 2


def test_reprocessing_for_the_workers_processes_nothing_here(
    sample_lead, django_capture_on_commit_callbacks
):
    delivery = receive(sample_lead)
    services.process_lead(delivery.lead_id)
    LeadDelivery.objects.filter(pk=delivery.pk).update(outcome="failed", error="boom")

    with django_capture_on_commit_callbacks(execute=False) as queued:
        done = services.reprocess(LeadDelivery.objects.all(), now=False)

    assert done == services.Reprocessed(leads=1, rejected=0)
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.error, delivery.attempts) == ("pending", "", 0)
    assert len(queued) == 1  # the publish, once the transaction commits


def test_a_lead_whose_deliveries_were_all_rejected_does_not_exist(sample_lead):
    services.receive_lead(b'{"id": "4626a582-afb9-48bf-8d86-87e6fe91a842"}')
    assert services.process_lead(uuid.UUID(sample_lead["id"])) == 0
    assert not Lead.objects.exists()

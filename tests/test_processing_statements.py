"""What storing and applying one delivery cost on PostgreSQL, in statements: each is a round
trip, and the webhook's and a worker's rates are mostly their sum
(docs/contract.md#9-processing-retries-and-the-sweep).

Counted as they run in production, BEGIN and COMMIT included, on the paths that cost the most: a
new lead that a routing rule assigns, and a lead update with a write-back awaiting confirmation."""

import json
import threading
import time
import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leads.choices import WriteBack
from leads.intake import services
from leads.models import (
    Disposition,
    Lead,
    LeadAssignment,
    LeadDelivery,
    RoutingRule,
    StatusChange,
)
from leads.tests.test_sweep import broker_at

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _own_broker():
    """Tasks go to kombu's in-memory broker: the test run's worker must not process these leads
    while a test does."""
    with broker_at("memory://localhost/"):
        yield


@pytest.fixture
def officers(django_user_model):
    return [django_user_model.objects.create_user(f"officer{n}", is_staff=True) for n in range(2)]


@pytest.fixture
def rule(officers):
    rule = RoutingRule.objects.create(name="Everything", position=1)
    rule.officers.set(officers)
    return rule


def deliver(lead: dict) -> uuid.UUID:
    return services.receive_lead(json.dumps(lead).encode()).delivery.lead_id


def applied(lead_id: uuid.UUID) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert services.process_lead(lead_id) == 1
    return [query["sql"] for query in queries]


def while_another_worker_inserts(lead_id: uuid.UUID, process) -> None:
    """Run `process` in a thread while another transaction holds its own first INSERT of the
    lead; check that `process` waits on that row, then let the other commit."""
    other_inserted, other_may_commit = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                Lead.objects.create(id=lead_id)
                other_inserted.set()
                other_may_commit.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=other_worker)
    processing = threading.Thread(target=lambda: (process(), connection.close()))
    other.start()
    try:
        assert other_inserted.wait(10)
        processing.start()
        time.sleep(0.5)  # this worker is waiting on the other's row
        assert processing.is_alive()
    finally:
        other_may_commit.set()
        other.join(10)
        if processing.ident:
            processing.join(10)


def test_a_new_lead_routed_to_an_officer_is_applied_in_at_most_twelve_statements(
    sample_lead, rule, officers
):
    lead_id = deliver({**sample_lead, "id": str(uuid.uuid4())})

    statements = applied(lead_id)

    lead = Lead.objects.get(pk=lead_id)
    assert lead.status == sample_lead["status"] and lead.matched_product is not None
    assert lead.assigned_officer == officers[0]
    assert LeadAssignment.objects.get(lead=lead).rule == rule
    assert StatusChange.objects.filter(lead=lead).count() == 1
    assert len(statements) <= 12, "\n".join(s[:100] for s in statements)


def test_a_lead_update_confirming_a_write_back_is_applied_in_at_most_eight_statements(
    sample_lead, officers
):
    lead_id = deliver({**sample_lead, "id": str(uuid.uuid4())})
    services.process_lead(lead_id)
    disposition = Disposition.objects.create(
        lead_id=lead_id, status="Reviewed", body={}, state=WriteBack.SENT, author=officers[0]
    )
    Lead.objects.filter(pk=lead_id).update(disposition=disposition)
    deliver({**sample_lead, "id": str(lead_id), "status": "Reviewed"})

    statements = applied(lead_id)

    lead = Lead.objects.get(pk=lead_id)
    assert lead.status == "Reviewed"
    assert [c.to_status for c in lead.status_changes.order_by("id")] == ["Matched", "Reviewed"]
    disposition.refresh_from_db()
    assert disposition.confirmed_at is not None
    assert len(statements) <= 8, "\n".join(s[:100] for s in statements)


def test_a_delivery_is_stored_in_one_statement_committed_as_it_runs(sample_lead):
    body = json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode()

    with CaptureQueriesContext(connection) as queries:
        receipt = services.receive_lead(body)
    with CaptureQueriesContext(connection) as again:
        duplicate = services.receive_lead(body)

    assert [query["sql"].split()[0] for query in queries] == ["INSERT"]
    assert (duplicate.duplicate, duplicate.delivery.pk) == (True, receipt.delivery.pk)
    assert [query["sql"].split()[0] for query in again] == ["INSERT", "SELECT"]


def test_a_lead_another_worker_inserts_first_is_applied_as_its_update(sample_lead):
    """The one-write path for a new lead meets a concurrent first write of the same lead: this
    worker's INSERT waits for the other's transaction, fails on the key once it commits, and
    the delivery is applied to the row the other wrote, in the same transaction."""
    lead_id = deliver({**sample_lead, "id": str(uuid.uuid4())})

    while_another_worker_inserts(lead_id, lambda: services.process_lead(lead_id))

    lead = Lead.objects.get(pk=lead_id)
    assert lead.status == sample_lead["status"] and lead.matched_product is not None
    assert [c.to_status for c in lead.status_changes.all()] == [sample_lead["status"]]
    assert LeadDelivery.objects.get(lead_id=lead_id).outcome == "processed"


def test_twenty_new_leads_received_together_are_applied_in_ten_statements(
    sample_lead, rule, officers
):
    lead_ids = [deliver({**sample_lead, "id": str(uuid.uuid4())}) for _ in range(20)]

    with CaptureQueriesContext(connection) as queries:
        assert services.process_leads(lead_ids) == 20

    statements = [query["sql"] for query in queries]
    assert Lead.objects.count() == 20 and StatusChange.objects.count() == 20
    assigned = Lead.objects.values_list("assigned_officer", flat=True)
    assert sorted(assigned) == sorted([officer.pk for officer in officers] * 10)
    assert LeadAssignment.objects.filter(rule=rule).count() == 20
    assert len(statements) <= 10, "\n".join(s[:100] for s in statements)


def test_leads_received_together_one_of_which_another_worker_inserts_first(sample_lead):
    """The batch's one INSERT of its new leads fails on the key another worker's first write
    took: the batch is rolled back and each lead applied on its own, that one as an update."""
    raced, other_new = (deliver({**sample_lead, "id": str(uuid.uuid4())}) for _ in range(2))

    while_another_worker_inserts(raced, lambda: services.process_leads([raced, other_new]))

    for lead_id in (raced, other_new):
        lead = Lead.objects.get(pk=lead_id)
        assert lead.status == sample_lead["status"] and lead.matched_product is not None
        assert [c.to_status for c in lead.status_changes.all()] == [sample_lead["status"]]
        assert LeadDelivery.objects.get(lead_id=lead_id).outcome == "processed"

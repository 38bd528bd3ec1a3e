"""Several leads applied in one transaction (`services.process_leads`, the intake's batched task):
the rows one lead at a time would leave, and a failure kept to its own lead."""

import json
import uuid

import pytest
from django.db import OperationalError, connection

from leads.intake import services, tasks
from leads.models import Lead, LeadAssignment, LeadDelivery, RoutingRule, StatusChange

pytestmark = pytest.mark.django_db

# What a lead's processing leaves, compared between the two paths.
LEAD_FIELDS = ("status", "name_of_business", "applied_delivery_id", "assigned_officer_id")


def receive(sample_lead, **changes) -> LeadDelivery:
    return services.receive_lead(json.dumps({**sample_lead, **changes}).encode()).delivery


KNOWN, TWICE, ONCE = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(3))


def mixed_deliveries(sample_lead) -> list[uuid.UUID]:
    """Two new leads, one of them received twice, and an update of a lead processed already; the
    lead ids in receipt order."""
    known, twice, once = KNOWN, TWICE, ONCE
    receive(sample_lead, id=known, status="Matched")
    services.process_lead(uuid.UUID(known))
    receive(sample_lead, id=twice, status="Matched")
    receive(sample_lead, id=once, status="Reviewed", nameOfBusiness="Once LLC")
    receive(sample_lead, id=known, status="Contacted", nameOfBusiness="Known Renamed LLC")
    receive(sample_lead, id=twice, status="Reviewed")
    return [uuid.UUID(lead_id) for lead_id in (twice, once, known, twice)]


def state() -> dict:
    """The rows, delivery ids counted from the first (the two runs number them differently)."""
    first = LeadDelivery.objects.order_by("id").values_list("id", flat=True).first()
    return {
        "leads": sorted(
            (lead_id, *values, delivery - first, officer)
            for lead_id, *values, delivery, officer in Lead.objects.values_list("id", *LEAD_FIELDS)
        ),
        "history": sorted(
            (lead_id, delivery - first, *change)
            for lead_id, delivery, *change in StatusChange.objects.values_list(
                "lead_id", "delivery_id", "from_status", "to_status"
            )
        ),
        "deliveries": sorted(
            (delivery - first, *rest)
            for delivery, *rest in LeadDelivery.objects.values_list("id", "outcome", "attempts")
        ),
        "assignments": sorted(LeadAssignment.objects.values_list("lead_id", "to_officer_id")),
    }


@pytest.fixture
def rule(django_user_model):
    rule = RoutingRule.objects.create(name="Everything", position=1)
    rule.officers.set(
        [django_user_model.objects.create_user(f"officer{n}", is_staff=True) for n in range(2)]
    )
    return rule


def test_leads_applied_together_leave_the_rows_one_at_a_time_leaves(sample_lead, rule):
    lead_ids = mixed_deliveries(sample_lead)

    assert services.process_leads(lead_ids) == 4
    together = state()

    StatusChange.objects.all().delete()
    LeadAssignment.objects.all().delete()
    Lead.objects.all().delete()
    LeadDelivery.objects.all().delete()
    RoutingRule.objects.filter(pk=rule.pk).update(turns=0)
    lead_ids = mixed_deliveries(sample_lead)
    for lead_id in dict.fromkeys(lead_ids):
        services.process_lead(lead_id)
    one_at_a_time = state()

    assert together == one_at_a_time
    twice = Lead.objects.get(pk=TWICE)
    assert [c.to_status for c in twice.status_changes.order_by("delivery_id")] == [
        "Matched",
        "Reviewed",
    ]
    assert Lead.objects.get(pk=KNOWN).status == "Contacted"
    assert Lead.objects.get(pk=ONCE).name_of_business == "Once LLC"
    # Routed on arrival only: the known lead once, then the two new ones, round-robin.
    assert LeadAssignment.objects.count() == 3
    assert LeadAssignment.objects.filter(lead_id=KNOWN).count() == 1


def test_a_lead_that_fails_together_with_others_fails_alone(sample_lead):
    bad, good = str(uuid.uuid4()), str(uuid.uuid4())
    bad_hex = uuid.UUID(bad).hex
    receive(sample_lead, id=bad)
    receive(sample_lead, id=good)

    def fail_the_bad_lead(execute, sql, params, many, context):
        values = str(params)  # UUIDs as they are (PostgreSQL) or as hex (SQLite)
        if sql.startswith('INSERT INTO "leads_lead" ') and (bad in values or bad_hex in values):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_the_bad_lead):
        assert services.process_leads([uuid.UUID(bad), uuid.UUID(good)]) == 1

    assert list(Lead.objects.values_list("id", flat=True)) == [uuid.UUID(good)]
    outcomes = dict(LeadDelivery.objects.values_list("lead_id", "outcome"))
    assert outcomes == {uuid.UUID(bad): "failed", uuid.UUID(good): "processed"}
    assert "server closed the connection" in LeadDelivery.objects.get(lead_id=bad).error


def test_the_batched_task_takes_lead_ids_as_text(sample_lead):
    deliveries = [receive(sample_lead, id=str(uuid.uuid4())) for _ in range(3)]

    assert tasks.process_leads.apply(args=[[str(d.lead_id) for d in deliveries]]).get() == 3
    assert Lead.objects.count() == 3


def test_leads_whose_deliveries_another_worker_took_are_left_to_it(sample_lead):
    taken, left = str(uuid.uuid4()), str(uuid.uuid4())
    receive(sample_lead, id=taken)
    receive(sample_lead, id=left)
    services.process_lead(uuid.UUID(taken))

    assert services.process_leads([uuid.UUID(taken), uuid.UUID(left)]) == 1
    assert services.process_leads([uuid.UUID(taken), uuid.UUID(left)]) == 0
    assert Lead.objects.count() == 2

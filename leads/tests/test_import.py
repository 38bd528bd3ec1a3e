"""The bulk import (bulk.import_leads): the rows intake and processing would leave, in bulk."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import models
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads import demo
from leads.intake import bulk, services
from leads.models import Lead, LeadDelivery, Partner, Product, ProductSet, StatusChange

pytestmark = pytest.mark.django_db

NOW = timezone.now()


# The odd lead's update changes everything its first delivery set; the bare lead names one partner.
ODD_LEAD = "0b6f3c57-2f8e-4b55-9a3f-4f5de1c1e001"
BARE_LEAD = "0b6f3c57-2f8e-4b55-9a3f-4f5de1c1e002"


def demo_deliveries(sample_lead) -> list[tuple[bytes, object]]:
    """Generated leads and lead updates, plus what real traffic also has: a body sent twice, one
    that is not a lead, one with values the reader reports, a lead with no partner or product,
    and a lead whose update, batches later, changes its problems (about the sensitive field too),
    its unknown keys, its partner's name and its product (gone)."""
    sent = [(d.body, d.when) for d in demo.deliveries(120, seed=3, now=NOW)]
    odd = {**sample_lead, "industry": "Time Travel", "numEmployees": "many", "newKey": 1}
    first, bare, update = odd_lead(sample_lead)
    not_a_lead, reported = (b"{not json", NOW), (json.dumps(odd).encode(), NOW)
    # Batches of 23 (below): the first delivery of the odd lead in the first, its update in the
    # fifth, with the bare lead just before it.
    return [
        *sent[:5],
        first,
        *sent[5:50],
        sent[10],
        not_a_lead,
        reported,
        *sent[50:88],
        bare,
        update,
        *sent[88:],
    ]


def odd_lead(sample_lead) -> list[tuple[bytes, object]]:
    partner = sample_lead["leadSource"]
    first = {
        **sample_lead,
        "id": ODD_LEAD,
        "requestedAmount": "lots",
        "ownershipDemographicTypes": "Veteran",
        "ownerDemographicsNote": "Veteran",
        "favouriteColour": "blue",
        "leadSource": {**partner, "name": "Old Partner Name"},
    }
    bare = {
        **sample_lead,
        "id": BARE_LEAD,
        "servicePartner": None,
        "matchedProduct": None,
        "productSet": {"id": None, "name": ""},
        "leadSource": {**partner, "name": "Interim Name"},
    }
    update = {
        **sample_lead,
        "id": ODD_LEAD,
        "status": "Contacted",
        "otherKey": 2,
        "matchedProduct": None,
        "leadSource": {**partner, "name": "New Partner Name"},
    }
    return [(json.dumps(lead).encode(), NOW) for lead in (first, bare, update)]


def one_at_a_time(deliveries, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # each lead processed after its commit
        for body, when in deliveries:
            services.receive_lead(
                body, headers={"User-Agent": "test"}, source="demo", received_at=when
            )


WRITTEN_AT = {"first_seen_at", "updated_at", "processed_at"}  # when the row was written


def snapshot() -> dict:
    """Every column of every row each path writes, but when it was written. Keys the database
    gives out read as what they stand for (a delivery as its lead and body hash, a partner or
    product as its CRF key), so that each path's rows compare however they were numbered."""
    delivery = {
        pk: (lead_id, sha)
        for pk, lead_id, sha in LeadDelivery.objects.values_list("id", "lead_id", "body_sha256")
    }
    named = {model: dict(model.objects.values_list("id", "crf_key")) for model in RELATED}
    return {
        model.__name__: rows(model, delivery, named)
        for model in (Lead, LeadDelivery, StatusChange, *RELATED)
    }


RELATED = (Partner, Product, ProductSet)


def rows(model, delivery: dict, named: dict) -> list:
    fields = [
        field
        for field in model._meta.concrete_fields
        if field.name not in WRITTEN_AT and not isinstance(field, models.AutoField)
    ]

    def stable(field, value):
        if field.related_model is LeadDelivery or field.name == "source_delivery_id":
            return delivery.get(value)
        return named[field.related_model].get(value) if field.related_model in named else value

    table = model.objects.values(*[field.attname for field in fields])
    return sorted(
        ({field.name: stable(field, row[field.attname]) for field in fields} for row in table),
        key=repr,
    )


def forget_everything() -> None:
    StatusChange.objects.all().delete()
    Lead.objects.all().delete()
    LeadDelivery.objects.all().delete()
    for model in (Partner, Product, ProductSet):
        model.objects.all().delete()


def test_bulk_import_leaves_the_rows_intake_and_processing_leave(
    sample_lead, django_capture_on_commit_callbacks
):
    deliveries = demo_deliveries(sample_lead)
    one_at_a_time(deliveries, django_capture_on_commit_callbacks)
    expected = snapshot()
    forget_everything()

    # Small batches, so that leads and their updates land in different batches.
    written = bulk.import_leads(
        deliveries, source="demo", headers={"User-Agent": "test"}, batch_size=23
    )

    assert sum(written) == len(deliveries)
    assert snapshot() == expected
    assert len(expected["Lead"]) == 123  # the generated ones and the odd ones
    assert len(expected["StatusChange"]) > len(expected["Lead"])  # lead updates made a history
    # The odd lead's update did change what its first delivery had set.
    odd = Lead.objects.select_related("lead_source").get(id=ODD_LEAD)
    assert (odd.restricted, odd.extra, odd.data_problems) == ({}, {"otherKey": 2}, [])
    assert (odd.lead_source.name, odd.matched_product) == ("New Partner Name", None)


# Three leads: two share a partner (named differently from one delivery to the next), one has no
# product. Each keeps the same partners and products: a partner or product named only by a lead's
# superseded delivery is created by processing one delivery at a time, not by a batch (nor by a
# worker that finds both deliveries waiting), which applies only the newest.
PROPERTY_LEADS = [uuid.UUID(int=n) for n in (1, 2, 3)]
sent_deliveries = st.lists(
    st.fixed_dictionaries(
        {
            "lead": st.sampled_from(range(len(PROPERTY_LEADS))),
            "status": st.sampled_from(["Matched", "Reviewed", "Contacted", "OnHold"]),
            "partner_name": st.sampled_from(["Partner", "Partner Renamed"]),
            "demographics": st.sampled_from([["Veteran"], "Veteran", None]),  # a string: a problem
            "note": st.sampled_from([None, 1, "Veteran"]),  # an unknown key, sensitive by its value
        }
    ),
    min_size=1,
    max_size=8,
)


def property_delivery(sample_lead, sent: dict) -> bytes:
    lead = {
        **sample_lead,
        "id": str(PROPERTY_LEADS[sent["lead"]]),
        "status": sent["status"],
        "ownershipDemographicTypes": sent["demographics"],
        "note": sent["note"],
        "leadSource": {**sample_lead["leadSource"], "name": sent["partner_name"]},
    }
    if sent["lead"] == 1:
        lead["matchedProduct"] = None
    if sent["lead"] == 2:
        lead["leadSource"] = {"id": None, "name": sent["partner_name"], "route": "another"}
    return json.dumps(lead).encode()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sent=sent_deliveries, batch_size=st.integers(1, 4))
def test_wherever_batches_split_the_deliveries_the_import_leaves_the_rows_processing_leaves(
    sent, batch_size, sample_lead, django_capture_on_commit_callbacks
):
    forget_everything()
    deliveries = [
        (property_delivery(sample_lead, one), NOW + timedelta(minutes=n))
        for n, one in enumerate(sent)
    ]
    one_at_a_time(deliveries, django_capture_on_commit_callbacks)
    expected = snapshot()
    forget_everything()

    headers = {"User-Agent": "test"}
    list(bulk.import_leads(deliveries, source="demo", headers=headers, batch_size=batch_size))

    assert snapshot() == expected


def test_bulk_import_keeps_staff_owned_fields_and_continues_the_history(sample_lead, admin_user):
    first = json.dumps(sample_lead).encode()
    list(bulk.import_leads([(first, NOW)], source="demo"))
    Lead.objects.update(assigned_officer=admin_user)

    update = json.dumps({**sample_lead, "status": "Contacted"}).encode()
    list(bulk.import_leads([(update, NOW + timedelta(days=1))], source="demo"))

    lead = Lead.objects.get()
    assert (lead.status, lead.assigned_officer) == ("Contacted", admin_user)
    history = list(lead.status_changes.values_list("from_status", "to_status"))
    assert history == [("", sample_lead["status"]), (sample_lead["status"], "Contacted")]


def test_bulk_import_of_deliveries_already_stored_adds_nothing(sample_lead):
    deliveries = [(d.body, d.when) for d in demo.deliveries(30, seed=5, now=NOW)]
    list(bulk.import_leads(deliveries, source="demo"))
    before = snapshot()

    list(bulk.import_leads(deliveries, source="demo", batch_size=7))

    assert snapshot() == before

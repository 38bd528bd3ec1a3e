"""The one builder of lead state (leads.intake.state), shared by processing and the bulk import."""

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.intake import crf, state
from leads.models import Lead, LeadDelivery, Partner, Product

NOW = timezone.now()
LEAD = uuid.UUID("5d1c0a52-7d0e-4f5e-9c3c-1e2a3b4c5d6e")
# Not CRF's to write: the key, what staff own (the officer, the disposition, speed to lead), when
# the row was first written. Named again here, so that taking a field from CRF is a decision a
# test records.
NOT_CRFS = {
    "id",
    "assigned_officer",
    "disposition",
    "first_contact_at",
    "next_action_at",
    "first_seen_at",
}


def parse(lead: dict) -> crf.ParsedLead:
    return crf.parse(json.dumps(lead).encode())


def model_fields() -> set[str]:
    return {field.name for field in Lead._meta.concrete_fields}


def test_every_lead_field_but_the_key_staffs_and_first_seen_is_written_from_a_delivery():
    # Taken from the model: a field added to Lead is saved by processing and upserted by the
    # import, and the builder must set it (below), unless it is named as not CRF's.
    assert set(state.WRITTEN_FIELDS) == model_fields() - NOT_CRFS
    assert state.NOT_WRITTEN == NOT_CRFS


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"leadSource": None, "servicePartner": None, "matchedProduct": None, "productSet": None},
        {"requestedAmount": "lots", "ownershipDemographicTypes": "Veteran", "someNewKey": 1},
    ],
    ids=["the sample", "no partner or product", "with problems and unknown keys"],
)
def test_the_builder_sets_every_field_a_delivery_writes(sample_lead, changes):
    parsed = parse({**sample_lead, **changes})
    related = state.upsert_related([(1, parsed)])

    built = state.lead_values(parsed, LeadDelivery(id=1), related)

    # `updated_at` is the clock's, set as the row is written; the key is the row's own.
    written = {*state.WRITTEN_FIELDS, "id"} - {"updated_at"}
    assert written - set(built) == set()  # saved, but left at the model's default by the import
    assert set(built) - written == set()  # built, but never saved


@pytest.mark.django_db
def test_the_builder_takes_partners_and_products_from_the_rows_upserted(sample_lead):
    parsed = parse({**sample_lead, "matchedProduct": None})
    related = state.upsert_related([(1, parsed)])

    built = state.lead_values(parsed, LeadDelivery(id=1), related)

    assert built["lead_source"] == Partner.objects.get(name="Some Referral Partner")
    assert built["service_partner"] == Partner.objects.get(name="Some Service Partner")
    assert built["matched_product"] is None
    assert Product.objects.count() == 0


@pytest.mark.django_db
def test_a_partner_named_by_several_deliveries_takes_the_newest_ones_values(sample_lead):
    partner = sample_lead["leadSource"]
    newer = parse({**sample_lead, "leadSource": {**partner, "name": "Newer"}})
    older = parse({**sample_lead, "leadSource": {**partner, "name": "Older"}})

    state.upsert_related([(9, newer), (3, older)])
    state.upsert_related([(5, older)])  # an older delivery, processed late

    row = Partner.objects.get(route=partner["route"])
    assert (row.name, row.source_delivery_id) == ("Newer", 9)


@pytest.mark.django_db
def test_partners_and_products_are_written_in_one_order_whatever_order_deliveries_name_them(
    sample_lead,
):
    leads = [
        parse({**sample_lead, "leadSource": {"id": None, "name": name, "route": name}})
        for name in ("zeta", "alpha", "mu")
    ]

    with CaptureQueriesContext(connection) as queries:
        state.upsert_related([(delivery_id, lead) for delivery_id, lead in enumerate(leads, 1)])

    # Models in one order, each model's rows in key order: the order in which INSERT … ON
    # CONFLICT takes their row locks. One statement on PostgreSQL, one per model elsewhere.
    sql = " ".join(query["sql"] for query in queries)
    written = [
        (table, re.findall(r"\('((?:id|route|name):[^']*)'", values))
        for table, values in re.findall(r'INSERT INTO "leads_(\w+)"(.*?)ON CONFLICT', sql)
    ]
    assert len(queries) == (1 if connection.vendor == "postgresql" else 3)
    assert [table for table, _ in written] == ["partner", "product", "productset"]
    assert written[0][1] == [
        "id:4fbcdfeb-68b5-4e0c-8387-a5c5a0930350",
        "route:alpha",
        "route:mu",
        "route:zeta",
    ]


def test_the_history_keeps_each_change_of_status_in_receipt_order_and_skips_repeats():
    times = [NOW + timedelta(hours=hours) for hours in range(4)]
    received = [
        (1, "Matched", times[0]),
        (2, "Matched", times[1]),
        (3, "Contacted", times[2]),
        (4, "Matched", times[3]),
    ]

    changes = state.status_history(LEAD, received)

    assert [
        (c.lead_id, c.delivery_id, c.from_status, c.to_status, c.changed_at) for c in changes
    ] == [
        (LEAD, 1, "", "Matched", times[0]),
        (LEAD, 3, "Matched", "Contacted", times[2]),
        (LEAD, 4, "Contacted", "Matched", times[3]),
    ]


def test_the_history_continues_from_the_status_the_lead_had_before():
    received = [(7, "Contacted", NOW), (8, "Funded", NOW)]

    changes = state.status_history(LEAD, received, previous="Contacted")

    assert [(c.delivery_id, c.from_status, c.to_status) for c in changes] == [
        (8, "Contacted", "Funded")
    ]
    assert state.status_history(LEAD, []) == []

"""The bulk import (services.import_leads): the rows intake and processing would leave, in bulk."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from leads import demo
from leads.intake import bulk, services
from leads.models import Lead, LeadDelivery, Partner, Product, ProductSet, StatusChange

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def demo_deliveries(sample_lead) -> list[tuple[bytes, object]]:
    """Generated leads and lead updates, plus what real traffic also has: a body sent twice, one
    that is not a lead, and one with values the reader reports."""
    sent = [(d.body, d.when) for d in demo.deliveries(120, seed=3, now=NOW)]
    odd = {**sample_lead, "industry": "Time Travel", "numEmployees": "many", "newKey": 1}
    return [*sent[:50], sent[10], (b"{not json", NOW), (json.dumps(odd).encode(), NOW), *sent[50:]]


def one_at_a_time(deliveries, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # each lead processed after its commit
        for body, when in deliveries:
            services.receive_lead(body, headers={"User-Agent": "test"}, source="demo", received_at=when)


def snapshot() -> dict:
    sha = dict(LeadDelivery.objects.values_list("id", "body_sha256"))
    key = {model: dict(model.objects.values_list("id", "crf_key")) for model in (Partner, Product, ProductSet)}
    leads = []
    for lead in Lead.objects.order_by("id").values():
        lead["applied_delivery"] = sha[lead.pop("applied_delivery_id")]
        for fk, model in [("lead_source", Partner), ("service_partner", Partner),
                          ("matched_product", Product), ("product_set", ProductSet)]:
            lead[fk] = key[model].get(lead.pop(f"{fk}_id"))
        del lead["first_seen_at"], lead["updated_at"]  # when the row was written
        leads.append(lead)
    return {
        "leads": leads,
        "deliveries": sorted(
            LeadDelivery.objects.values_list(
                "lead_id", "body_sha256", "body", "headers", "source", "status", "outcome",
                "warnings", "error", "received_at",
            ),
            key=repr,
        ),
        "history": sorted(
            (c.lead_id, sha[c.delivery_id], c.from_status, c.to_status, c.changed_at)
            for c in StatusChange.objects.all()
        ),
        "products": sorted(Product.objects.values_list("crf_key", "name", "tags", "apr_min")),
    }


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
    written = bulk.import_leads(deliveries, source="demo", headers={"User-Agent": "test"}, batch_size=23)

    assert sum(written) == len(deliveries)
    assert snapshot() == expected
    assert len(expected["leads"]) == 121  # the generated ones and the odd one
    assert len(expected["history"]) > len(expected["leads"])  # lead updates made a history


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

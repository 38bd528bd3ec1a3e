"""The leads admin, on leads made by the real intake (the webhook, or `services` directly)."""

import json
import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.admin.leads import LeadAdmin
from leads.choices import FRAUD_BANDS, SCORE_STEP, fraud_band
from leads.intake import crf, services
from leads.models import Lead, LeadDelivery, LeadNote

pytestmark = pytest.mark.django_db

LEADS = reverse("admin:leads_lead_changelist")
DELIVERIES = reverse("admin:leads_leaddelivery_changelist")


@pytest.fixture
def add_lead(sample_lead):
    """Receive and process a variation of the sample lead; returns its id."""

    def add(**changes) -> uuid.UUID:
        body = json.dumps({**sample_lead, "id": str(uuid.uuid4()), **changes}).encode()
        lead_id = services.receive_lead(body).delivery.lead_id
        services.process_lead(lead_id)
        return lead_id

    return add


def listed(response) -> list:
    return list(response.context["cl"].result_list)


def lead_change_url(lead_id) -> str:
    return reverse("admin:leads_lead_change", args=[lead_id])


def delivery_of(lead_id) -> LeadDelivery:
    return LeadDelivery.objects.get(lead_id=lead_id)


# --- Lead list -------------------------------------------------------------------------------


def test_the_lead_list_shows_each_lead_with_its_product_and_partner(admin_client, add_lead):
    add_lead(nameOfBusiness="Acme Bakery", fraudScore=0.9)

    response = admin_client.get(LEADS)

    assert response.status_code == 200
    for text in [
        "Acme Bakery",
        "Bob Lastnameson",
        "$25,000.00",
        "Matched",
        "0.9 (withheld)",
        "Some Product",
        "Some Service Partner",
    ]:
        assert text in response.text


def test_the_lead_list_makes_no_query_per_row(admin_client, add_lead):
    add_lead()
    with CaptureQueriesContext(connection) as one_lead:
        admin_client.get(LEADS)
    for n in range(3):
        add_lead(matchedProduct={"id": str(uuid.uuid4()), "name": f"Product {n}"})
    with CaptureQueriesContext(connection) as four_leads:
        admin_client.get(LEADS)

    assert len(four_leads) == len(one_lead)


@pytest.mark.parametrize(
    ("band", "scores"),
    [
        ("zero", {"0"}),
        ("low", {"0.3"}),
        ("high", {"0.5", "0.84"}),
        ("withheld", {"0.85", "0.99"}),
    ],
)
def test_fraud_band_filter_keeps_only_leads_in_the_band(admin_client, add_lead, band, scores):
    for score in ["0", "0.3", "0.5", "0.84", "0.85", "0.99"]:
        add_lead(fraudScore=float(score))
    add_lead(fraudScore=None)

    response = admin_client.get(LEADS, {"fraud": band})

    assert {lead.fraud_score for lead in listed(response)} == {Decimal(s) for s in scores}


def test_fraud_band_filter_keeps_only_withheld_leads(admin_client, add_lead):
    withheld = add_lead(fraudScore=0.92)
    add_lead(fraudScore=0.15)

    response = admin_client.get(LEADS, {"fraud": "withheld"})

    assert [lead.id for lead in listed(response)] == [withheld]
    assert "≥0.85 (withheld from matching)" in response.text


# Each bound, the scores either side of it, and the scale's ends.
BOUNDARY_SCORES = sorted(
    {Decimal(s) for s in ["0", "0.00001", "0.49999", "0.5", "0.84999", "0.85", "1"]}
    | {
        bound + step
        for band in FRAUD_BANDS
        for bound in (band.lower, band.upper)
        if bound is not None
        for step in (-SCORE_STEP, 0, SCORE_STEP)
        if 0 <= bound + step <= 1
    }
)


def test_each_score_is_in_the_band_python_gives_it_and_in_no_other_in_the_database(add_lead):
    leads = {add_lead(fraudScore=float(score)): score for score in BOUNDARY_SCORES}

    for band in FRAUD_BANDS:
        in_database = set(Lead.objects.filter(band.condition).values_list("pk", flat=True))
        in_python = {lead_id for lead_id, score in leads.items() if fraud_band(score) == band}
        assert in_database == in_python, band.key
    assert all(fraud_band(score) is not None for score in leads.values())
    assert Lead.objects.filter(fraud_score__in=BOUNDARY_SCORES).count() == len(BOUNDARY_SCORES)


def test_a_lead_listed_under_a_fraud_band_wears_that_bands_colour(admin_client, add_lead):
    for score in BOUNDARY_SCORES:
        add_lead(fraudScore=float(score))

    for band in FRAUD_BANDS:
        response = admin_client.get(LEADS, {"fraud": band.key})
        badges = re.findall(r"background:(#[0-9a-f]{6});padding[^>]*>([0-9.]+)", response.text)
        scores = {Decimal(score) for colour, score in badges if colour == band.colour}
        assert scores == {s for s in BOUNDARY_SCORES if fraud_band(s) == band}
        assert len(listed(response)) == len(scores), band.key


def test_a_score_below_zero_is_in_no_band():
    assert fraud_band(Decimal("-0.00001")) is None
    assert fraud_band(Decimal("1.5")).key == "withheld"


def test_the_score_step_is_the_stored_precision():
    places = Lead._meta.get_field("fraud_score").decimal_places
    assert SCORE_STEP == Decimal(1).scaleb(-places)


def test_status_filter_keeps_only_leads_with_that_status(admin_client, add_lead):
    funded = add_lead(status="Funded")
    add_lead(status="Matched")

    response = admin_client.get(LEADS, {"status__exact": "Funded"})

    assert [lead.id for lead in listed(response)] == [funded]


def test_product_filter_keeps_only_leads_matched_to_that_product(admin_client, add_lead):
    other = add_lead(matchedProduct={"id": str(uuid.uuid4()), "name": "Equipment Loan"})
    add_lead()
    product = Lead.objects.get(pk=other).matched_product

    response = admin_client.get(LEADS, {"matched_product__id__exact": product.pk})

    assert [lead.id for lead in listed(response)] == [other]


def test_search_by_email_finds_the_lead(admin_client, add_lead):
    wanted = add_lead(email="ann@bakery.example")
    add_lead(email="bob@somecompany.com")

    response = admin_client.get(LEADS, {"q": "ann@bakery"})

    assert [lead.id for lead in listed(response)] == [wanted]


def test_search_by_an_exact_lead_id_finds_only_that_lead(admin_client, add_lead):
    wanted = add_lead()
    add_lead()

    response = admin_client.get(LEADS, {"q": str(wanted)})

    assert [lead.id for lead in listed(response)] == [wanted]


def test_values_crf_added_later_are_shown_as_sent(admin_client, add_lead):
    options = ["BusinessPlan", "Yoga"]
    lead_id = add_lead(status="Closed", industry="Space Mining", technicalAssistanceOptions=options)

    assert "Closed" in admin_client.get(LEADS).text
    page = admin_client.get(lead_change_url(lead_id)).text
    assert "Closed" in page and "Space Mining" in page and "Business plan, Yoga" in page


# --- Lead page -------------------------------------------------------------------------------


def test_the_lead_page_shows_the_status_history_in_receipt_order_newest_first(
    admin_client, sample_lead
):
    for status in ["Matched", "Contacted", "Funded"]:
        services.receive_lead(json.dumps({**sample_lead, "status": status}).encode())
    services.process_lead(uuid.UUID(sample_lead["id"]))

    page = admin_client.get(lead_change_url(sample_lead["id"])).text
    timeline = page.split('id="timeline"')[1]

    shown = re.findall(
        r'class="entry status">.*?<div class="what">Status (.*?)</div>', timeline, re.S
    )
    assert shown == ["Contacted → Funded", "Matched → Contacted", "(new lead) → Matched"]


def test_the_lead_page_lists_the_data_problems(admin_client, add_lead):
    lead_id = add_lead(numEmployees="three", extraThing={"a": 1})

    page = admin_client.get(lead_change_url(lead_id)).text

    assert "<b>numEmployees</b>: expected a whole number" in page
    assert "extraThing" in page


def test_every_crf_field_has_a_place_on_the_lead_page():
    shown = {getattr(f, "__name__", f) for f in flatten_fieldsets(LeadAdmin.fieldsets)}
    crf_fields = {name for _, name in crf.LEAD_FIELDS} | {fk for *_, fk in crf.RELATED.values()}

    assert crf_fields <= shown


def test_leads_cannot_be_added_changed_or_deleted(admin_client, add_lead):
    lead_id = add_lead()

    assert admin_client.get(reverse("admin:leads_lead_add")).status_code == 403
    assert admin_client.post(reverse("admin:leads_lead_delete", args=[lead_id])).status_code == 403
    change = admin_client.post(lead_change_url(lead_id), {"name_of_business": "Changed"})
    assert change.status_code == 403
    assert Lead.objects.get(pk=lead_id).name_of_business == "Some Company LLC."


def test_the_lead_page_has_no_save_button(admin_client, add_lead):
    page = admin_client.get(lead_change_url(add_lead())).text

    assert 'name="_save"' not in page


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   \n ", "A note needs some text."),
        ("Called\x00back", "A note cannot contain a NUL character."),
    ],
)
def test_a_note_that_cannot_be_kept_is_refused_with_a_message_at_the_top_of_the_lead_page(
    admin_client, add_lead, text, message
):
    lead_id = add_lead()

    response = admin_client.post(reverse("admin:leads_lead_note", args=[lead_id]), {"text": text})

    assert (response.status_code, response["Location"]) == (302, lead_change_url(lead_id))
    assert message in admin_client.get(response["Location"]).text
    assert not LeadNote.objects.exists()


# --- Deliveries ------------------------------------------------------------------------------


def test_the_delivery_page_escapes_the_raw_body(
    admin_client, post_lead, sample_lead, django_capture_on_commit_callbacks
):
    sample_lead["nameOfBusiness"] = "<script>alert(1)</script>"
    with django_capture_on_commit_callbacks(execute=True):
        assert post_lead(sample_lead).status_code == 202
    delivery = delivery_of(sample_lead["id"])

    page = admin_client.get(reverse("admin:leads_leaddelivery_change", args=[delivery.pk])).text

    assert "<script>alert(1)</script>" not in page
    assert "&quot;nameOfBusiness&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_delivery_page_shows_a_deeply_nested_body(admin_client):
    delivery = services.receive_lead(b"[" * 100_000 + b"]" * 100_000).delivery

    page = admin_client.get(reverse("admin:leads_leaddelivery_change", args=[delivery.pk]))

    assert page.status_code == 200


def test_the_delivery_list_shows_a_rejected_body_and_its_error(admin_client):
    services.receive_lead(b"not json")

    response = admin_client.get(DELIVERIES)

    assert response.status_code == 200
    assert "The body is not valid JSON." in response.text


def test_delivery_search_by_lead_id_finds_only_its_deliveries(admin_client, add_lead):
    wanted = add_lead()
    add_lead()

    response = admin_client.get(DELIVERIES, {"q": str(wanted)})

    assert [d.lead_id for d in listed(response)] == [wanted]
    assert listed(admin_client.get(DELIVERIES, {"q": "not-an-id"})) == []


def test_deliveries_cannot_be_added_or_deleted(admin_client, add_lead):
    delivery = delivery_of(add_lead())

    assert admin_client.get(reverse("admin:leads_leaddelivery_add")).status_code == 403
    delete = reverse("admin:leads_leaddelivery_delete", args=[delivery.pk])
    assert admin_client.post(delete).status_code == 403


def reprocess(admin_client, deliveries):
    data = {"action": "reprocess", "_selected_action": [d.pk for d in deliveries]}
    return admin_client.post(DELIVERIES, data, follow=True)


def test_the_reprocess_action_processes_a_failed_delivery_again(
    admin_client, add_lead, django_capture_on_commit_callbacks
):
    lead_id = add_lead()
    LeadDelivery.objects.filter(lead_id=lead_id).update(outcome="failed", error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        response = reprocess(admin_client, [delivery_of(lead_id)])

    delivery = delivery_of(lead_id)
    assert (delivery.outcome, delivery.error) == ("processed", "")
    assert "Queued 1 lead for processing." in response.text
    assert "Skipped" not in response.text


def test_the_reprocess_action_says_it_skipped_rejected_deliveries(
    admin_client, add_lead, django_capture_on_commit_callbacks
):
    failed = delivery_of(add_lead())
    rejected = services.receive_lead(b"not json").delivery

    with django_capture_on_commit_callbacks(execute=True):
        response = reprocess(admin_client, [failed, rejected])

    assert "Queued 1 lead for processing. Skipped 1 rejected delivery" in response.text
    rejected.refresh_from_db()
    assert rejected.outcome == "rejected"


def test_staff_who_may_only_view_deliveries_cannot_reprocess_them(
    client, django_user_model, add_lead
):
    lead_id = add_lead()
    LeadDelivery.objects.filter(lead_id=lead_id).update(outcome="failed", error="boom")
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_leaddelivery"))
    client.force_login(viewer)

    reprocess(client, [delivery_of(lead_id)])

    assert delivery_of(lead_id).outcome == "failed"


# --- Partners and products -------------------------------------------------------------------


@pytest.mark.parametrize("model", ["partner", "product", "productset"])
def test_crf_lookups_are_listed_searchable_and_read_only(admin_client, add_lead, model):
    add_lead()
    changelist = reverse(f"admin:leads_{model}_changelist")

    assert "Some " in admin_client.get(changelist, {"q": "Some"}).text
    assert admin_client.get(reverse(f"admin:leads_{model}_add")).status_code == 403

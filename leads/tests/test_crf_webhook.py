"""POST /webhooks/crf/leads/ — every rule of docs/contract.md#5-crf-lead-intake, from the CRF
sample lead and variations."""

import hashlib
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from conftest import CRF_URL
from leads.intake import crf
from leads.models import Lead, LeadDelivery, Partner, StatusChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(post_lead, django_capture_on_commit_callbacks):
    """POST a lead and let its after-commit processing run, as it would outside a test."""

    def post(payload, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_lead(payload, **kwargs)

    return post


def test_it_accepts_the_sample_lead_and_stores_every_field(deliver, sample_lead):
    response = deliver(sample_lead)

    assert response.status_code == 202
    body = response.json()
    assert body["id"] == sample_lead["id"]
    assert body["warnings"] == []
    lead = Lead.objects.get(pk=sample_lead["id"])
    assert lead.status == "Matched"
    assert lead.requested_amount == Decimal("25000.00")
    assert lead.collateral_types == ["Inventory"]
    assert lead.address_city == "Minneapolis"
    assert lead.longitude == Decimal("-93.2639915")
    assert lead.census_tract == "55124442411"
    assert lead.is_cdfi_investment_area is True
    assert lead.funded_amount == Decimal("10000")
    assert lead.funded_date.microsecond == 479670  # .NET's seven fractional digits
    assert lead.lead_source.name == "Some Referral Partner"
    assert lead.service_partner.route == "some-service-partner"
    assert lead.matched_product.apr_max == Decimal("9")
    assert lead.matched_product.tags == ["Minneapolis Metro Team"]
    assert lead.product_set.name == "Some Active Fund"
    assert lead.fraud_score == Decimal("0.15")
    assert lead.data_problems == []


def test_it_commits_the_raw_delivery_without_the_secret_header(deliver, sample_lead):
    response = deliver(sample_lead, HTTP_AUTHORIZATION="Bearer x", HTTP_COOKIE="a=b")

    delivery = LeadDelivery.objects.get(pk=response.json()["delivery"])
    assert json.loads(bytes(delivery.body)) == sample_lead
    assert delivery.outcome == "processed"
    stored = {name.lower() for name in delivery.headers}
    assert "content-type" in stored
    assert not stored & {"x-api-key", "authorization", "cookie"}
    assert "test-crf-secret" not in json.dumps(delivery.headers)


def test_content_type_is_not_trusted(deliver, sample_lead):
    response = deliver(json.dumps(sample_lead).encode(), CONTENT_TYPE="text/plain")
    assert response.status_code == 202


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "image/*;q=0.5", "x"])
def test_whatever_the_sender_accepts_the_lead_is_stored_and_answered_in_json(
    post_lead, sample_lead, accept
):
    response = post_lead(sample_lead, HTTP_ACCEPT=accept)

    assert response.status_code == 202
    assert response["Content-Type"] == "application/json"
    assert LeadDelivery.objects.get().pk == response.json()["delivery"]


def test_a_refusal_is_json_whatever_the_sender_accepts(post_lead, sample_lead):
    response = post_lead(sample_lead, secret="wrong", HTTP_ACCEPT="application/xml")

    assert (response.status_code, response.json()["error"]) == (401, "authentication_failed")


@pytest.mark.parametrize("secret", [None, "", "wrong", "test-crf-secret "])
def test_a_missing_or_wrong_secret_is_401_and_stores_nothing(post_lead, sample_lead, secret):
    response = post_lead(sample_lead, secret=secret)

    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"
    assert LeadDelivery.objects.count() == 0


def test_every_configured_secret_is_accepted_during_a_rotation(settings, post_lead, sample_lead):
    settings.CRF_WEBHOOK_SECRET = ["old-secret", "new-secret"]
    assert post_lead(sample_lead, secret="old-secret").status_code == 202
    assert post_lead(sample_lead, secret="new-secret").status_code == 202


def test_the_header_name_is_configurable(settings, client, sample_lead, crf_secret):
    settings.CRF_WEBHOOK_HEADER = "X-Connect-Token"
    response = client.post(
        CRF_URL,
        json.dumps(sample_lead),
        content_type="application/json",
        HTTP_X_CONNECT_TOKEN=crf_secret,
    )
    assert response.status_code == 202
    assert "X-Connect-Token" not in LeadDelivery.objects.get().headers


def test_without_a_configured_secret_it_answers_503_and_stores_nothing(
    settings, post_lead, sample_lead
):
    settings.CRF_WEBHOOK_SECRET = []
    response = post_lead(sample_lead, secret="")

    assert response.status_code == 503
    assert response.json()["error"] == "not_configured"
    assert LeadDelivery.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "head", "options", "put", "patch", "delete"])
def test_other_methods_are_405(client, crf_secret, method):
    response = getattr(client, method)(CRF_URL, HTTP_X_API_KEY=crf_secret)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    if method != "head":
        assert response.json()["error"] == "method_not_allowed"
    assert LeadDelivery.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "options", "put"])
def test_other_methods_without_the_secret_are_401(client, crf_secret, method):
    response = getattr(client, method)(CRF_URL, HTTP_X_API_KEY="wrong")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_a_body_over_one_mebibyte_is_413_and_not_stored(post_lead, sample_lead):
    sample_lead["otherReasonText"] = "x" * (1024 * 1024)
    response = post_lead(sample_lead)

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert LeadDelivery.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "invalid_json"),
        (b"", "invalid_json"),
        (b'{"id": NaN}', "missing_id"),  # NaN is JSON's, not storable: emptied
        (b"[1, 2]", "not_an_object"),
        (b'"a lead"', "not_an_object"),
        (b'{"status": "Matched"}', "missing_id"),
        (b'{"id": "not-a-uuid", "status": "Matched"}', "invalid_id"),
        (b'{"id": 42, "status": "Matched"}', "invalid_id"),
        # uuid.UUID alone reads other digits, underscores and a sign: another text, the same id
        (('{"id": "%s", "status": "Matched"}' % ("\u0661" * 32)).encode(), "invalid_id"),
        (b'{"id": "+626a582-afb9-48bf-8d86-87e6fe91a842", "status": "Matched"}', "invalid_id"),
        (b'{"id": "4_26a582-afb9-48bf-8d86-87e6fe91a842", "status": "Matched"}', "invalid_id"),
        (b'{"id": "4626a582-afb9-48bf-8d86-87e6fe91a842"}', "missing_status"),
        (b'{"id": "4626a582-afb9-48bf-8d86-87e6fe91a842", "status": null}', "missing_status"),
        (b'{"id": "4626a582-afb9-48bf-8d86-87e6fe91a842", "status": 3}', "missing_status"),
    ],
)
def test_an_unusable_body_is_400_and_kept_as_a_rejected_delivery(post_lead, body, error):
    response = post_lead(body)

    assert response.status_code == 400
    assert response.json()["error"] == error
    delivery = LeadDelivery.objects.get(pk=response.json()["delivery"])
    assert delivery.outcome == "rejected"
    assert bytes(delivery.body) == body
    assert delivery.error
    assert Lead.objects.count() == 0


def test_a_body_that_is_not_utf8_is_kept_byte_for_byte(post_lead):
    body = b'{"id": "\xff\xfe"}'
    response = post_lead(body)

    assert response.status_code == 400
    assert bytes(LeadDelivery.objects.get().body) == body


def test_a_wrongly_typed_field_is_stored_empty_and_reported(deliver, sample_lead):
    sample_lead["requestedAmount"] = "lots"
    sample_lead["numEmployees"] = 2.5
    sample_lead["hasBusinessPlan"] = "yes"
    sample_lead["dateCreated"] = "last tuesday"
    sample_lead["collateralTypes"] = "Inventory"

    response = deliver(sample_lead)

    assert response.status_code == 202
    reported = {w["field"]: w["code"] for w in response.json()["warnings"]}
    assert reported == {
        "requestedAmount": "wrong_type",
        "numEmployees": "wrong_type",
        "hasBusinessPlan": "wrong_type",
        "dateCreated": "wrong_type",
        "collateralTypes": "wrong_type",
    }
    lead = Lead.objects.get()
    assert (lead.requested_amount, lead.num_employees, lead.has_business_plan) == (None, None, None)
    assert lead.date_created is None and lead.collateral_types == []
    assert {p["field"] for p in lead.data_problems} == set(reported)
    assert LeadDelivery.objects.get().warnings == response.json()["warnings"]


def test_a_nested_object_of_the_wrong_type_is_reported_once(deliver, sample_lead):
    sample_lead["businessAddress"] = "1234 Options Ave."
    sample_lead["matchedProduct"] = ["Some Product"]

    warnings = deliver(sample_lead).json()["warnings"]

    assert [w["field"] for w in warnings] == ["businessAddress", "matchedProduct"]
    lead = Lead.objects.get()
    assert lead.address_line1 == "" and lead.matched_product is None


def test_values_that_do_not_fit_are_reported_not_failed(deliver, sample_lead):
    sample_lead["requestedAmount"] = 10**20
    sample_lead["fraudScore"] = 7
    sample_lead["email"] = "a" * 300 + "@example.com"

    response = deliver(sample_lead)

    codes = {w["field"]: w["code"] for w in response.json()["warnings"]}
    assert codes == {
        "requestedAmount": "out_of_range",
        "fraudScore": "out_of_range",
        "email": "too_long",
    }
    assert Lead.objects.get().email == ""


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("99999999999999.99", Decimal("99999999999999.99")),  # every digit the column has
        ("-99999999999999.99", Decimal("-99999999999999.99")),
        ("0.004", Decimal("0.00")),
        ("99999999999999.994", Decimal("99999999999999.99")),  # rounded down, still fits
        ("99999999999999.995", None),  # rounded up to a digit more than it holds
        ("100000000000000", None),
    ],
)
def test_an_amount_is_kept_to_the_last_digit_its_column_holds(sample_lead, sent, stored):
    field = Lead._meta.get_field("requested_amount")
    assert (field.max_digits, field.decimal_places) == (16, 2)  # what the cases are written for
    body = json.dumps(sample_lead).replace(
        f'"requestedAmount": {json.dumps(sample_lead["requestedAmount"])}',
        f'"requestedAmount": {sent}',
    )

    parsed = crf.parse(body.encode())

    assert parsed.values["requested_amount"] == stored
    codes = [problem["code"] for problem in parsed.problems]
    assert codes == ([] if stored is not None else ["out_of_range"])


def test_unknown_enum_values_and_extra_keys_are_kept_as_sent(deliver, sample_lead):
    sample_lead["status"] = "OnHold"
    sample_lead["industry"] = "Space Tourism"
    sample_lead["collateralTypes"] = ["Inventory", "Crypto"]
    sample_lead["loyaltyTier"] = {"level": "gold"}
    sample_lead["businessAddress"]["suite"] = "4B"
    sample_lead["matchedProduct"]["fee"] = 1.5
    sample_lead["howDidYouHear"] = "Podcast"

    response = deliver(sample_lead)

    assert response.status_code == 202
    lead = Lead.objects.get()
    assert (lead.status, lead.industry, lead.how_did_you_hear) == (
        "OnHold",
        "Space Tourism",
        "Podcast",
    )
    assert lead.collateral_types == ["Inventory", "Crypto"]
    assert lead.extra == {
        "loyaltyTier": {"level": "gold"},
        "businessAddress.suite": "4B",
        "matchedProduct.fee": 1.5,
    }
    unknown = [w["field"] for w in response.json()["warnings"] if w["code"] == "unknown_value"]
    assert unknown == ["status", "collateralTypes", "industry", "howDidYouHear"]


def test_how_did_you_hear_is_a_lead_field(deliver, sample_lead):
    sample_lead["howDidYouHear"] = "WordOfMouth"
    deliver(sample_lead)
    assert Lead.objects.get().how_did_you_hear == "WordOfMouth"


def test_every_optional_field_may_be_null(deliver, sample_lead):
    nulled = {key: None for key in sample_lead if key not in ("id", "status")}
    response = deliver({**sample_lead, **nulled})

    assert response.status_code == 202
    assert response.json()["warnings"] == []
    lead = Lead.objects.get()
    assert lead.requested_amount is None and lead.name_of_business == ""
    assert lead.lead_source is None and lead.matched_product is None and lead.collateral_types == []


def test_nested_objects_may_be_missing_or_hold_nulls(deliver, sample_lead):
    for key in ("businessAddress", "statistics", "funded", "matchedProduct", "productSet"):
        del sample_lead[key]
    sample_lead["leadSource"] = {"id": None, "name": None, "route": None}
    sample_lead["collateralTypes"] = [None, "Cash"]

    response = deliver(sample_lead)

    assert response.json()["warnings"] == []
    lead = Lead.objects.get()
    assert lead.lead_source is None and lead.address_city == "" and lead.latitude is None
    assert lead.collateral_types == ["Cash"]


def test_unicode_survives_intake(deliver, sample_lead):
    sample_lead["nameOfBusiness"] = "Café Ñandú 北京 🌮"
    sample_lead["firstName"] = "Zoë"
    deliver(json.dumps(sample_lead, ensure_ascii=False).encode())

    lead = Lead.objects.get()
    assert (lead.name_of_business, lead.first_name) == ("Café Ñandú 北京 🌮", "Zoë")


def test_nul_characters_are_dropped_rather_than_failing_the_lead(deliver, sample_lead):
    sample_lead["nameOfBusiness"] = "Acme\u0000 LLC"
    sample_lead["extraNote"] = "a\u0000b"
    deliver(sample_lead)

    lead = Lead.objects.get()
    assert lead.name_of_business == "Acme LLC" and lead.extra == {"extraNote": "ab"}


def test_a_partner_with_a_null_id_is_keyed_by_route_then_name(deliver, sample_lead):
    sample_lead["leadSource"] = {"id": None, "name": "Walk-in", "route": "walk-in"}
    sample_lead["servicePartner"] = {"id": None, "name": "Main Street SBDC", "route": None}
    deliver(sample_lead)
    second = {**sample_lead, "id": str(uuid.uuid4())}
    second["leadSource"] = {"id": None, "name": "Walk-in (renamed)", "route": "walk-in"}
    deliver(second)

    keys = set(Partner.objects.values_list("crf_key", flat=True))
    assert keys == {"route:walk-in", "name:Main Street SBDC"}
    assert Partner.objects.get(crf_key="route:walk-in").name == "Walk-in (renamed)"
    assert Lead.objects.filter(lead_source__crf_key="route:walk-in").count() == 2


def test_partners_and_products_take_the_newest_values(deliver, sample_lead):
    deliver(sample_lead)
    update = {**sample_lead, "status": "Reviewed"}
    update["matchedProduct"] = {**sample_lead["matchedProduct"], "name": "Renamed Product"}
    deliver(update)

    lead = Lead.objects.get()
    assert lead.matched_product.name == "Renamed Product"
    assert lead.matched_product.crf_id == uuid.UUID(sample_lead["matchedProduct"]["id"])


def test_an_identical_redelivery_is_acknowledged_once(deliver, sample_lead):
    first = deliver(sample_lead)
    again = deliver(sample_lead)

    assert again.status_code == 202
    assert again.json()["delivery"] == first.json()["delivery"]
    assert again.json()["duplicate"] is True
    assert LeadDelivery.objects.count() == 1
    assert StatusChange.objects.count() == 1


def stored_unqueued(lead: dict, claimed_ago: timedelta) -> LeadDelivery:
    """A delivery committed and claimed, whose task was never published: its process died."""
    body = json.dumps(lead).encode()
    return LeadDelivery.objects.create(
        body=body,
        body_sha256=hashlib.sha256(body).hexdigest(),
        received_at=timezone.now() - claimed_ago,
        lead_id=lead["id"],
        status=lead["status"],
        queued_at=timezone.now() - claimed_ago,
    )


def test_a_redelivery_of_a_delivery_whose_task_was_lost_queues_it_again(post_lead, sample_lead):
    lost = stored_unqueued(sample_lead, claimed_ago=timedelta(minutes=2))

    assert post_lead(sample_lead).json()["duplicate"] is True

    lost.refresh_from_db()
    # Processed at once without a broker; with one, claimed anew for the task just published.
    renewed = lost.queued_at is not None and lost.queued_at > timezone.now() - timedelta(minutes=1)
    assert lost.outcome == "processed" or (lost.outcome == "pending" and renewed)


def test_a_redelivery_under_a_fresh_claim_leaves_it_to_its_task(post_lead, sample_lead):
    queued = stored_unqueued(sample_lead, claimed_ago=timedelta(seconds=1))
    claimed_at = queued.queued_at

    assert post_lead(sample_lead).json()["duplicate"] is True

    queued.refresh_from_db()
    assert (queued.outcome, queued.queued_at) == ("pending", claimed_at)


def test_the_same_lead_with_other_bytes_is_a_new_delivery(deliver, sample_lead):
    deliver(sample_lead)
    deliver(json.dumps(sample_lead, indent=2).encode())
    assert LeadDelivery.objects.count() == 2
    assert StatusChange.objects.count() == 1  # same status: no change in the history


def test_lead_updates_build_the_status_history(deliver, sample_lead):
    for status in ["Matched", "Reviewed", "Contacted", "Qualified", "Funded"]:
        deliver({**sample_lead, "status": status})

    lead = Lead.objects.get()
    assert lead.status == "Funded"
    history = list(lead.status_changes.values_list("from_status", "to_status"))
    assert history == [
        ("", "Matched"),
        ("Matched", "Reviewed"),
        ("Reviewed", "Contacted"),
        ("Contacted", "Qualified"),
        ("Qualified", "Funded"),
    ]


def test_a_removed_lead_is_marked_not_deleted(deliver, sample_lead):
    deliver(sample_lead)
    deliver({**sample_lead, "state": "Removed"})

    lead = Lead.objects.get()
    assert lead.is_removed and lead.state == "Removed"
    assert lead.deliveries.count() == 2


def test_a_database_that_cannot_take_the_delivery_is_503_with_retry_after(post_lead, sample_lead):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    with connection.execute_wrapper(refuse):
        response = post_lead(sample_lead)

    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["error"] == "database_unavailable"
    assert LeadDelivery.objects.count() == 0


# What JSON allows and the database cannot hold: made storable at intake, listed as warnings, and
# the delivery processed (on PostgreSQL each of these was a 500, or a 202 that failed forever).
# Each: the member as it is written into the body, the field warned about, and the stored result.
UNSTORABLE = {
    "nul in the status": (
        b'"status": "Match\\u0000ed"',
        "status",
        lambda lead: lead.status == "Matched",
    ),
    "surrogate in the status": (
        b'"status": "Matched\\ud800"',
        "status",
        lambda lead: lead.status == "Matched",
    ),
    "nul in a text field": (
        b'"nameOfBusiness": "Ac\\u0000me"',
        "nameOfBusiness",
        lambda lead: lead.name_of_business == "Acme",
    ),
    "surrogate in a list": (
        b'"collateralTypes": ["Cash\\udc00"]',
        "collateralTypes[0]",
        lambda lead: lead.collateral_types == ["Cash"],
    ),
    "nul in a key": (b'"no\\u0000te": "x"', "note", lambda lead: lead.extra == {"note": "x"}),
    "surrogate in an unknown value": (
        b'"note": {"a": "\\ud83d"}',
        "note.a",
        lambda lead: lead.extra == {"note": {"a": ""}},
    ),
    "NaN as an amount": (
        b'"requestedAmount": NaN',
        "requestedAmount",
        lambda lead: lead.requested_amount is None,
    ),
    "1e400 as a score": (
        b'"fraudScore": 1e400',
        "fraudScore",
        lambda lead: lead.fraud_score is None,
    ),
    "-Infinity unknown": (b'"note": -Infinity', "note", lambda lead: lead.extra == {"note": None}),
    "400 digits unknown": (
        b'"note": ' + b"9" * 400,
        "note",
        lambda lead: lead.extra == {"note": None},
    ),
    "deep nesting": (
        b'"note": ' + b'{"a": ' * 300 + b"1" + b"}" * 300,
        "note" + ".a" * 31,
        lambda lead: "note" in lead.extra,
    ),
    "a far-off date": (
        b'"dateCreated": "9999-12-31T23:00:00-05:00"',
        "dateCreated",
        lambda lead: lead.date_created is None,
    ),
}


@pytest.mark.parametrize(("member", "field", "check"), UNSTORABLE.values(), ids=list(UNSTORABLE))
def test_what_the_database_cannot_hold_is_made_storable_and_listed(
    deliver, sample_lead, member, field, check
):
    key = json.loads(member.split(b":")[0]).replace("\x00", "")
    rest = json.dumps({k: v for k, v in sample_lead.items() if k != key}).encode()
    response = deliver(rest[:-1] + b", " + member + b"}")

    assert response.status_code == 202, response.content
    assert field in [w["field"] for w in response.json()["warnings"]]
    delivery = LeadDelivery.objects.get(pk=response.json()["delivery"])
    assert delivery.outcome == "processed", delivery.error
    lead = Lead.objects.get(pk=sample_lead["id"])
    assert check(lead)
    assert field in [p["field"] for p in lead.data_problems]

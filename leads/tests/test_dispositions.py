"""Dispositions and their write-back to CRF (docs/contract.md#16-dispositions), against the test
CRF server: what is sent, once, in order; retries, refusals, read-backs; the key kept secret."""

import logging
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.choices import Confirmation, WriteBack
from leads.dispositions import crf_api as client
from leads.dispositions import services
from leads.dispositions.forms import DispositionForm, describe
from leads.models import Disposition, Lead
from tests.crf_api import KEY, Answer, problem

pytestmark = pytest.mark.django_db(transaction=True)

FUNDED = {
    "status": "Funded",
    "fundedDate": "2026-11-30",
    "fundedAmount": "250000",
    "fundedInterestRate": "7.25",
    "fundedTermMonths": "60",
}


def body_of(lead_id, data: dict) -> dict:
    form = DispositionForm(data)
    assert form.is_valid(), form.errors
    return form.body(lead_id)


def record(lead_id, **data) -> Disposition:
    lead = Lead.objects.get(pk=lead_id)
    return services.record(lead, body_of(lead_id, data), None)


def fresh(disposition: Disposition) -> Disposition:
    return Disposition.objects.get(pk=disposition.pk)


# --- the form -----------------------------------------------------------------------------------


def test_funded_needs_its_terms_and_gets_crf_names_and_types():
    form = DispositionForm({"status": "Funded"})
    assert not form.is_valid()
    assert form.errors["fundedAmount"] == ["Funded amount ($) is required when the lead is Funded."]
    assert set(form.errors) == {
        "fundedDate",
        "fundedAmount",
        "fundedInterestRate",
        "fundedTermMonths",
    }
    lead_id = uuid.uuid4()
    assert body_of(lead_id, FUNDED) == {
        "id": str(lead_id),
        "status": "Funded",
        "fundedDate": "2026-11-30",
        "fundedAmount": 250000.0,
        "fundedInterestRate": 7.25,
        "fundedTermMonths": 60,
    }


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"status": "Disqualified"}, "disqualifiedReason", "Say why the lead is Disqualified."),
        ({"status": "Withdrawn"}, "withdrawnReason", "Say why the lead is Withdrawn."),
        (
            {"status": "Withdrawn", "withdrawnReason": "Other"},
            "additionalInfo",
            "Describe the reason: it is Other.",
        ),
        (
            {"status": "Contacted", "fundedAmount": "10"},
            "fundedAmount",
            "Funding terms go with Funded only.",
        ),
        (
            {"status": "Withdrawn", "withdrawnReason": "Duplicate", "disqualifiedReason": "Other"},
            "disqualifiedReason",
            "This reason goes with Disqualified only.",
        ),
        ({"status": "Matched"}, "status", None),  # only CRF sets Matched
        ({"status": "Disqualified", "disqualifiedReason": "Bored"}, "disqualifiedReason", None),
        ({**FUNDED, "fundedInterestRate": "101"}, "fundedInterestRate", None),
        ({**FUNDED, "fundedAmount": "-5"}, "fundedAmount", None),
    ],
)
def test_the_form_says_why_in_words(data, field, words):
    form = DispositionForm(data)
    assert not form.is_valid()
    assert field in form.errors
    if words:
        assert form.errors[field] == [words]


def test_reasons_and_technical_assistance_in_the_body():
    lead_id = uuid.uuid4()
    data = {
        "status": "Withdrawn",
        "withdrawnReason": "Reassignment",
        "additionalInfo": "  Moved to our SBA desk ",
        "technicalAssistanceOptions": ["BusinessPlan", "TaxPlanning"],
    }
    body = body_of(lead_id, data)
    assert body == {
        "id": str(lead_id),
        "status": "Withdrawn",
        "withdrawnReason": "Reassignment",
        "additionalInfo": "Moved to our SBA desk",
        "willReceiveTechnicalAssistance": True,
        "technicalAssistanceOptions": ["BusinessPlan", "TaxPlanning"],
    }
    assert describe(body) == (
        "Withdrawn · Reassignment · “Moved to our SBA desk” · "
        "technical assistance: Business plan, Tax planning"
    )
    assert describe(body_of(lead_id, FUNDED)) == (
        "Funded · $250,000.00 · rate 7.25% · 60 months · on 2026-11-30"
    )


# --- without a key ------------------------------------------------------------------------------


def test_without_a_key_it_is_recorded_here_only(add_lead, settings):
    settings.CRF_API_KEY = ""
    lead_id = add_lead()
    disposition = record(lead_id, status="Contacted")
    assert disposition.state == WriteBack.LOCAL
    assert Lead.objects.get(pk=lead_id).disposition == disposition
    assert services.send(uuid.UUID(lead_id)) is None
    assert services.sweep() == 0
    assert list(services.unsent()) == [disposition]


def test_setting_the_key_later_sends_the_newest_unsent_one(add_lead, settings, crf_api):
    settings.CRF_API_KEY = ""
    lead_id = add_lead()
    older = record(lead_id, status="Reviewed")
    newest = record(lead_id, status="Contacted")
    assert fresh(older).state == WriteBack.SUPERSEDED
    settings.CRF_API_KEY = KEY
    assert services.resend(Disposition.objects.all()) == 1
    assert fresh(newest).state == WriteBack.SENT
    assert crf_api.posted(lead_id) == [{"id": lead_id, "status": "Contacted"}]


# --- with the test CRF --------------------------------------------------------------------------


def test_sent_once_with_the_key_and_confirmed_by_crfs_lead_update(
    add_lead, crf_api, post_lead, sample_lead
):
    lead_id = add_lead(status="Matched")
    disposition = record(lead_id, **FUNDED)
    disposition = fresh(disposition)
    assert disposition.state == WriteBack.SENT
    assert disposition.attempts == 1
    assert disposition.awaiting_confirmation
    [request] = crf_api.requests
    assert request.headers["x-api-key"] == KEY
    assert request.path == "/api/v1/test-lender/leads"
    assert request.body == disposition.body
    # A second task for the same lead (a duplicate message) sends nothing more.
    services.send(uuid.UUID(lead_id))
    assert len(crf_api.requests) == 1

    from leads.intake import services as intake

    sample_lead.update(id=lead_id, status="Funded", fundedAmount=250000)
    assert post_lead(sample_lead).status_code == 202
    intake.process_lead(uuid.UUID(lead_id))
    disposition = fresh(disposition)
    assert disposition.confirmed_by == Confirmation.WEBHOOK
    assert not disposition.awaiting_confirmation
    lead = Lead.objects.get(pk=lead_id)
    assert lead.status == "Funded" and lead.disposition == disposition


def test_a_disagreeing_lead_update_is_kept_beside_ours(add_lead, crf_api):
    lead_id = add_lead(status="Matched")
    disposition = record(lead_id, status="Contacted")
    add_lead(id=lead_id, status="Withdrawn", withdrawnReason="Duplicate")
    lead = Lead.objects.get(pk=lead_id)
    assert lead.status == "Withdrawn"  # CRF's word, as CRF said it
    assert lead.disposition == disposition  # ours, as we said it
    assert fresh(disposition).awaiting_confirmation


def test_a_refusal_stops_with_crfs_problem_and_a_resend_sends_it_once(add_lead, crf_api):
    lead_id = add_lead()
    crf_api.script(problem(409, "Conflict", "The lead is closed."))
    disposition = fresh(record(lead_id, status="Qualified"))
    assert disposition.state == WriteBack.FAILED
    assert disposition.error == "CRF answered 409: The lead is closed."
    assert disposition.problem == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "The lead is closed.",
    }
    assert services.sweep() == 0  # a refusal waits for a person
    assert services.resend(Disposition.objects.filter(pk=disposition.pk)) == 1
    disposition = fresh(disposition)
    assert disposition.state == WriteBack.SENT and disposition.problem == {}
    assert crf_api.applied(lead_id) == ["Qualified"]


def test_a_wrong_key_is_a_refusal_that_names_the_settings_not_the_key(add_lead, crf_api, settings):
    settings.CRF_API_KEY = "not-the-key"
    disposition = fresh(record(add_lead(), status="Reviewed"))
    assert disposition.state == WriteBack.FAILED
    assert disposition.error == (
        "CRF answered 401: Unauthorized (check CRF_API_KEY and CRF_PARTNER_ROUTE)"
    )


def test_503_is_retried_after_retry_after_and_sent_once(add_lead, crf_api):
    lead_id = add_lead()
    crf_api.script(Answer(503, headers={"Retry-After": "120"}))
    before = timezone.now()
    disposition = fresh(record(lead_id, status="Contacted"))
    assert disposition.state == WriteBack.PENDING
    assert disposition.error == "CRF answered 503: Service Unavailable"
    assert disposition.next_attempt_at - before >= timedelta(seconds=120)
    services.send(uuid.UUID(lead_id))  # not due: nothing sent
    assert len(crf_api.posted(lead_id)) == 1
    Disposition.objects.filter(pk=disposition.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=1)
    )
    assert services.sweep() == 1  # in-process here: the sweep's task sends it
    disposition = fresh(disposition)
    assert disposition.state == WriteBack.SENT and disposition.attempts == 2
    assert crf_api.applied(lead_id) == ["Contacted"]


def test_a_key_taken_away_leaves_waiting_write_backs_waiting(add_lead, crf_api, settings):
    lead_id = add_lead()
    crf_api.script(Answer(503))
    disposition = record(lead_id, status="Contacted")
    Disposition.objects.filter(pk=disposition.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    settings.CRF_API_KEY = ""
    assert services.sweep() == 0  # nothing queued to find nothing it may send
    assert fresh(disposition).state == WriteBack.PENDING
    settings.CRF_API_KEY = KEY
    assert services.sweep() == 1
    assert fresh(disposition).state == WriteBack.SENT


def test_backoff_doubles_from_30_seconds_to_an_hour():
    waits = [services._wait(attempt, None).total_seconds() for attempt in range(1, 12)]
    assert waits[:4] == [30, 60, 120, 240] and waits[-1] == 3600
    assert services._wait(3, 0.2).total_seconds() == 1  # Retry-After, at least a second


def test_gives_up_after_the_last_attempt(add_lead, crf_api):
    lead_id = add_lead()
    crf_api.script(*[Answer(500)] * services.MAX_ATTEMPTS)
    disposition = record(lead_id, status="Contacted")
    for _ in range(services.MAX_ATTEMPTS - 1):
        Disposition.objects.filter(pk=disposition.pk).update(next_attempt_at=timezone.now())
        services.send(uuid.UUID(lead_id))
    disposition = fresh(disposition)
    assert disposition.state == WriteBack.FAILED
    assert disposition.error.endswith(f"gave up after {services.MAX_ATTEMPTS} attempts")
    assert crf_api.applied(lead_id) == []


def test_a_timeout_that_crf_applied_is_read_back_not_posted_again(add_lead, crf_api):
    lead_id = add_lead()
    crf_api.script(Answer(delay=1.5, apply=True))  # past the 1 s timeout, applied anyway
    disposition = fresh(record(lead_id, status="Contacted"))
    assert disposition.state == WriteBack.PENDING and disposition.uncertain
    assert disposition.error == "CRF did not answer in time"
    Disposition.objects.filter(pk=disposition.pk).update(next_attempt_at=timezone.now())
    services.send(uuid.UUID(lead_id))
    disposition = fresh(disposition)
    assert disposition.state == WriteBack.SENT
    assert disposition.confirmed_by == Confirmation.READ_BACK
    assert len(crf_api.posted(lead_id)) == 1  # the read-back found it: not posted twice
    assert [r.method for r in crf_api.requests] == ["POST", "GET"]


def test_a_timeout_crf_did_not_apply_is_posted_again(add_lead, crf_api):
    lead_id = add_lead()
    crf_api.script(Answer(delay=1.5))
    disposition = record(lead_id, status="Contacted")
    Disposition.objects.filter(pk=disposition.pk).update(next_attempt_at=timezone.now())
    crf_api.statuses[lead_id] = "Matched"
    services.send(uuid.UUID(lead_id))
    assert fresh(disposition).state == WriteBack.SENT
    assert crf_api.applied(lead_id) == ["Contacted"]
    assert [r.method for r in crf_api.requests] == ["POST", "GET", "POST"]


def test_a_dead_senders_claim_is_taken_after_the_timeout_and_read_back(add_lead, crf_api):
    lead_id = add_lead()
    disposition = record(lead_id, status="Reviewed")
    crf_api.requests.clear()
    # As a worker killed mid-request leaves it: sending, and CRF may have taken it.
    Disposition.objects.filter(pk=disposition.pk).update(
        state=WriteBack.SENDING, claimed_at=timezone.now(), sent_at=None
    )
    assert services.sweep() == 0  # a live claim: left to its sender
    assert crf_api.requests == []
    Disposition.objects.filter(pk=disposition.pk).update(
        claimed_at=timezone.now() - services.claim_timeout() - timedelta(seconds=1)
    )
    assert services.sweep() == 1
    assert fresh(disposition).state == WriteBack.SENT
    assert [r.method for r in crf_api.requests] == ["GET"]  # CRF had it: not posted again
    assert crf_api.applied(lead_id) == ["Reviewed"]


def test_a_newer_disposition_supersedes_an_unsent_one_and_waits_for_one_in_flight(
    add_lead, crf_api
):
    lead_id = add_lead()
    crf_api.script(Answer(503))
    first = record(lead_id, status="Reviewed")
    assert fresh(first).state == WriteBack.PENDING
    second = record(lead_id, status="Contacted")
    assert fresh(first).state == WriteBack.SUPERSEDED
    assert fresh(second).state == WriteBack.SENT
    assert crf_api.applied(lead_id) == ["Contacted"]

    # One in flight is never superseded: the next waits until it is done, then goes.
    Disposition.objects.filter(pk=second.pk).update(
        state=WriteBack.SENDING, claimed_at=timezone.now()
    )
    third = record(lead_id, status="Qualified")
    assert fresh(second).state == WriteBack.SENDING
    assert fresh(third).state == WriteBack.PENDING
    Disposition.objects.filter(pk=second.pk).update(state=WriteBack.SENT)
    services.send(uuid.UUID(lead_id))
    assert fresh(third).state == WriteBack.SENT
    assert crf_api.applied(lead_id) == ["Contacted", "Qualified"]


def test_a_lead_crf_does_not_know_is_a_404_with_its_words(add_lead, crf_api):
    lead_id = add_lead()
    crf_api.forget(lead_id)
    disposition = fresh(record(lead_id, status="Reviewed"))
    assert disposition.state == WriteBack.FAILED
    assert disposition.problem["status"] == 404
    assert disposition.error == "CRF answered 404: Lead not found."


def test_crf_unreachable_is_retried(add_lead, crf_api, settings):
    crf_api.close()
    disposition = fresh(record(add_lead(), status="Reviewed"))
    assert disposition.state == WriteBack.PENDING
    assert disposition.error == "Could not reach CRF (ConnectionError)"
    assert not disposition.uncertain  # no connection was made: nothing could have been applied


def test_reconcile_reads_back_and_records_what_crf_says(add_lead, crf_api):
    confirmed = add_lead()
    differs = add_lead()
    unknown = add_lead()
    for lead_id in (confirmed, differs, unknown):
        record(lead_id, status="Contacted")
    crf_api.statuses[differs] = "Withdrawn"
    crf_api.forget(unknown)
    assert services.to_reconcile().count() == 3
    assert services.reconcile() == 3
    got = {str(d.lead_id): d for d in Disposition.objects.all()}
    assert got[confirmed].confirmed_by == Confirmation.READ_BACK
    assert got[differs].crf_status == "Withdrawn" and got[differs].confirmed_at is None
    assert got[unknown].checked_at is not None and got[unknown].crf_status == ""
    assert services.to_reconcile().count() == 2


def test_the_key_never_reaches_the_database_or_the_logs(add_lead, crf_api, caplog):
    caplog.set_level(logging.DEBUG)
    crf_api.script(problem(400, "Bad Request", "x"), Answer(503), Answer(delay=1.5))
    lead_id = add_lead()
    for status in ("Reviewed", "Contacted", "Qualified"):
        record(lead_id, status=status)
    crf_api.close()
    record(lead_id, status="Funded", **{k: v for k, v in FUNDED.items() if k != "status"})
    for row in Disposition.objects.values():
        assert KEY not in repr(row)
    assert KEY not in caplog.text


def test_problem_details_keep_only_their_members_as_text():
    class Response:
        status_code = 400
        reason = "Bad Request"
        headers = {}

        def json(self):
            return {"title": "Bad", "detail": None, "errors": {"status": ["bad"]}, "x": "drop"}

    result = client._failure(Response())
    assert result == client.Refused(
        "CRF answered 400: Bad", {"title": "Bad", "errors": '{"status": ["bad"]}'}
    )
    assert client._retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert client._retry_after("soon") is None


def test_an_amount_survives_as_the_number_typed():
    body = body_of(uuid.uuid4(), {**FUNDED, "fundedAmount": "1234567.89"})
    assert Decimal(str(body["fundedAmount"])) == Decimal("1234567.89")
    assert date.fromisoformat(body["fundedDate"]) == date(2026, 11, 30)


def test_healthz_counts_write_backs_and_warns_of_failed_ones(add_lead, crf_api, client):
    crf_api.script(problem(409, "Conflict", "Closed"), Answer(503))
    record(add_lead(), status="Reviewed")
    record(add_lead(), status="Reviewed")
    body = client.get("/healthz/").json()
    assert body["crf_write_backs"]["waiting"] == 1
    assert body["crf_write_backs"]["failed"] == 1
    assert body["status"] == "warning"
    assert any("write-back(s) to CRF failed" in warning for warning in body["warnings"])

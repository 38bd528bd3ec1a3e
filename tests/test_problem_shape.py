"""Both partners report what they could not store in one shape, with the same codes and words."""

import uuid

import pytest

from alerts.models import Alert
from leadcrm import lenient
from leads.models import Lead, LeadDelivery

pytestmark = pytest.mark.django_db

KEYS = {"field", "code", "detail"}


@pytest.fixture
def crf_problems(post_lead, sample_lead, django_capture_on_commit_callbacks):
    """A lead with a number for a text, a text too long and a NUL: every list it is reported in."""
    lead = {**sample_lead, "nameOfBusiness": 7, "email": "a" * 300, "phone": "555\u00000100"}
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_lead(lead).json()["warnings"]
    stored = Lead.objects.get()
    return {
        "answer": answer,
        "delivery": LeadDelivery.objects.get().warnings,
        "lead": stored.data_problems,
    }


@pytest.fixture
def crs_problems(post_alerts, sample_batch):
    """An alert with the same three, and a bad time and date of its own."""
    item = {
        **sample_batch[0],
        "id": str(uuid.uuid4()),
        "alert_source": 7,
        "alert_id": "a" * 300,
        "error_msg": "555\u00000100",
        "time": "soon",
        "alert_date": "last tuesday",
    }
    assert post_alerts([item]).json()[0]["status"] is True
    return Alert.objects.get(pk=item["id"]).problems


def by_field(problems: list[dict]) -> dict[str, dict]:
    return {p["field"]: p for p in problems}


def test_crf_and_crs_problems_have_the_same_keys_and_known_codes(crf_problems, crs_problems):
    every = [*crs_problems] + [p for problems in crf_problems.values() for p in problems]

    assert len(crs_problems) == 5 and all(len(problems) == 3 for problems in crf_problems.values())
    assert {frozenset(p) for p in every} == {frozenset(KEYS)}
    assert {p["code"] for p in every} <= lenient.CODES


def test_the_same_fault_has_the_same_code_and_words_from_either_partner(crf_problems, crs_problems):
    crf, crs = by_field(crf_problems["answer"]), by_field(crs_problems)

    assert crf["nameOfBusiness"] == {**crs["alert_source"], "field": "nameOfBusiness"}
    assert crf["nameOfBusiness"]["code"] == "wrong_type"
    assert crf["email"]["code"] == crs["alert_id"]["code"] == "too_long"
    assert crf["phone"] == {**crs["error_msg"], "field": "phone"}
    assert crf["phone"]["code"] == "unstorable"


def test_crs_problems_carry_their_codes(crs_problems):
    codes = {p["field"]: p["code"] for p in crs_problems}

    assert codes == {
        "error_msg": "unstorable",
        "alert_source": "wrong_type",
        "alert_id": "too_long",
        "time": "wrong_type",
        "alert_date": "wrong_type",
    }
    assert by_field(crs_problems)["time"]["detail"] == "expected epoch seconds, got 'soon'"
    assert by_field(crs_problems)["alert_date"]["detail"] == (
        "could not read 'last tuesday' as a date; kept as sent"
    )

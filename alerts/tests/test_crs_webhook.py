"""POST /webhooks/crs/alerts/ — every rule of docs/contract.md#7-crs-alert-intake, from the CRS
sample batch and variations."""

import json
import random
import uuid
from datetime import datetime

import pytest
from django.db import OperationalError, connection

from alerts.models import Alert, AlertDelivery, CRSUser
from conftest import CRS_URL, basic_auth

pytestmark = pytest.mark.django_db


def ids(batch: list[dict]) -> list:
    return [item.get("id") for item in batch]


def test_it_answers_every_item_true_in_order_and_stores_them(post_alerts, sample_batch):
    response = post_alerts(sample_batch)

    assert response.status_code == 200
    assert response.json() == [{"hook_id": item["id"], "status": True} for item in sample_batch]
    assert Alert.objects.count() == 4
    alert = Alert.objects.get(pk=sample_batch[0]["id"])
    assert alert.type == "ACCALERT" and alert.get_type_display() == "Account alert (credit)"
    assert alert.time.isoformat() == "2025-11-22T04:00:00+00:00"
    assert alert.alert_date.isoformat() == "2026-11-21T04:00:00+00:00"
    assert alert.alert_date_sent == "2026-11-21T04:00:00Z"
    assert alert.alert_source == "Equifax"
    failed = Alert.objects.get(pk=sample_batch[2]["id"])
    assert (failed.error_code, failed.error_msg) == (
        "REG-104",
        "Unable to register user for credit data",
    )
    assert CRSUser.objects.count() == 2


def test_whatever_the_sender_accepts_the_batch_is_stored_and_answered_in_json(
    post_alerts, sample_batch
):
    response = post_alerts(sample_batch, HTTP_ACCEPT="application/xml")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert Alert.objects.count() == len(sample_batch)


def test_the_raw_batch_is_kept_without_the_credentials(post_alerts, sample_batch):
    post_alerts(sample_batch, HTTP_COOKIE="session=x")

    delivery = AlertDelivery.objects.get()
    assert json.loads(bytes(delivery.body)) == sample_batch
    assert (delivery.outcome, delivery.items, delivery.accepted) == ("answered", 4, 4)
    assert not {name.lower() for name in delivery.headers} & {"authorization", "cookie"}


def test_a_resent_item_is_answered_true_and_stored_once(post_alerts, sample_batch):
    post_alerts(sample_batch)
    again = post_alerts(sample_batch[:2] + [{**sample_batch[3], "type": "ERROR"}])

    assert [answer["status"] for answer in again.json()] == [True, True, True]
    assert Alert.objects.count() == 4
    assert Alert.objects.get(pk=sample_batch[3]["id"]).type == "TEST"  # the first one stored wins
    assert AlertDelivery.objects.count() == 2


def test_a_single_object_is_a_batch_of_one(post_alerts, sample_batch):
    response = post_alerts(sample_batch[0])

    assert response.json() == [{"hook_id": sample_batch[0]["id"], "status": True}]
    assert Alert.objects.count() == 1


def test_an_empty_array_is_answered_with_an_empty_array(post_alerts):
    response = post_alerts([])
    assert (response.status_code, response.json()) == (200, [])
    assert AlertDelivery.objects.get().items == 0


def test_unknown_types_and_keys_are_stored_as_sent(post_alerts, sample_batch):
    item = {**sample_batch[0], "type": "IDTHEFT", "severity": "high", "score": 1.5}
    post_alerts([item])

    alert = Alert.objects.get()
    assert alert.type == "IDTHEFT" and alert.get_type_display() == "IDTHEFT"
    assert alert.extra == {"severity": "high", "score": 1.5}


def test_an_item_with_only_an_id_is_stored(post_alerts):
    hook_id = str(uuid.uuid4())
    response = post_alerts([{"id": hook_id}])

    assert response.json() == [{"hook_id": hook_id, "status": True}]
    alert = Alert.objects.get()
    assert (alert.type, alert.user, alert.time, alert.alert_date) == ("", None, None, None)


@pytest.mark.parametrize(
    ("item", "hook_id"),
    [
        ({"type": "ACCALERT"}, None),
        ({"id": None}, None),
        ({"id": "not-a-uuid"}, "not-a-uuid"),
        ({"id": 12345}, 12345),
        ({"id": "\u0661" * 32}, "\u0661" * 32),  # uuid.UUID alone reads other digits as 1s
        ({"id": ["a"]}, None),
        ("a string", None),
        (42, None),
        (None, None),
    ],
)
def test_an_item_without_a_usable_id_is_answered_false_and_kept_raw(
    post_alerts, sample_batch, item, hook_id
):
    response = post_alerts([sample_batch[0], item])

    assert response.json() == [
        {"hook_id": sample_batch[0]["id"], "status": True},
        {"hook_id": hook_id, "status": False},
    ]
    assert Alert.objects.count() == 1
    delivery = AlertDelivery.objects.get()
    assert json.loads(bytes(delivery.body))[1] == item
    assert (delivery.items, delivery.accepted) == (2, 1)


@pytest.mark.parametrize(
    ("time", "code"),
    [
        ("soon", "wrong_type"),
        (True, "wrong_type"),
        ([1], "wrong_type"),
        ({"t": 1}, "wrong_type"),
        ("NaN", "wrong_type"),
        (10**30, "out_of_range"),
        ("-1e30", "out_of_range"),
    ],
)
def test_a_bad_time_is_stored_empty_and_noted(post_alerts, sample_batch, time, code):
    response = post_alerts([{**sample_batch[0], "time": time}])

    assert response.json()[0]["status"] is True
    alert = Alert.objects.get()
    assert alert.time is None
    assert [(p["field"], p["code"]) for p in alert.problems] == [("time", code)]


def test_time_in_milliseconds_or_as_a_string_is_read(post_alerts, sample_batch):
    post_alerts(
        [{**sample_batch[0], "time": 1763784000000}, {**sample_batch[1], "time": "1763784060"}]
    )

    times = {str(a.id): a.time.isoformat() for a in Alert.objects.all()}
    assert times[sample_batch[0]["id"]] == "2025-11-22T04:00:00+00:00"
    assert times[sample_batch[1]["id"]] == "2025-11-22T04:01:00+00:00"


@pytest.mark.parametrize(
    ("sent", "parsed"),
    [
        ("2026-11-21T04:00:00Z", "2026-11-21T04:00:00+00:00"),
        ("2026-11-21T04:00:00.1234567-05:00", "2026-11-21T04:00:00.123456-05:00"),
        ("2026-11-21", "2026-11-21T00:00:00+00:00"),
        ("11/21/2026", "2026-11-21T00:00:00+00:00"),
        ("11/21/2026 4:00 PM", "2026-11-21T16:00:00+00:00"),
        ("Nov 21, 2026", "2026-11-21T00:00:00+00:00"),
        ("2026-11-21 04:00:00", "2026-11-21T04:00:00+00:00"),
        (1763784000, "2025-11-22T04:00:00+00:00"),
    ],
)
def test_odd_alert_date_formats_are_parsed_leniently_and_kept_as_sent(
    post_alerts, sample_batch, sent, parsed
):
    post_alerts([{**sample_batch[0], "alert_date": sent}])

    alert = Alert.objects.get()
    assert alert.alert_date == datetime.fromisoformat(parsed)  # the same instant
    assert alert.alert_date_sent == (sent if isinstance(sent, str) else json.dumps(sent))
    assert alert.problems == []


@pytest.mark.parametrize("sent", ["last tuesday", "", "2026-13-45", "\u0000"])
def test_an_unreadable_alert_date_is_kept_as_sent(post_alerts, sample_batch, sent):
    post_alerts([{**sample_batch[0], "alert_date": sent}])

    alert = Alert.objects.get()
    assert alert.alert_date is None
    assert alert.alert_date_sent == sent.replace("\u0000", "")
    assert {p["field"] for p in alert.problems} == {"alert_date"}
    assert "wrong_type" in {p["code"] for p in alert.problems}  # the NUL's is "unstorable"


@pytest.mark.parametrize(
    ("sent", "code", "detail"),
    [
        ("9999-12-31T23:30:00-05:00", "out_of_range", "9999-12-31T23:30:00-05:00 is out of range"),
        (10**30, "out_of_range", f"{10**30} is out of range"),
        (True, "wrong_type", "could not read True as a date"),
        (["2026-11-21"], "wrong_type", "could not read ['2026-11-21'] as a date"),
    ],
)
def test_an_alert_date_out_of_range_or_of_the_wrong_type_says_which(
    post_alerts, sample_batch, sent, code, detail
):
    post_alerts([{**sample_batch[0], "alert_date": sent}])

    (problem,) = Alert.objects.get().problems
    assert problem == {"field": "alert_date", "code": code, "detail": f"{detail}; kept as sent"}


def test_fields_of_the_wrong_shape_never_fail_the_batch(post_alerts, sample_batch):
    item = {
        **sample_batch[0],
        "user_id": "someone",
        "host_id": 7,
        "alert_source": {"name": "x"},
        "alert_id": "a" * 300,
        "error_msg": "nul\u0000byte",
    }
    response = post_alerts([item, sample_batch[1]])

    assert [a["status"] for a in response.json()] == [True, True]
    alert = Alert.objects.get(pk=item["id"])
    assert (alert.user, alert.host_id, alert.alert_source, alert.alert_id) == (None, None, "", "")
    assert alert.error_msg == "nulbyte"
    assert {p["field"] for p in alert.problems} == {
        "user_id",
        "host_id",
        "alert_source",
        "alert_id",
        "error_msg",  # its NUL, removed
    }


def test_an_id_twice_in_one_batch_is_stored_once_and_answered_true_twice(post_alerts, sample_batch):
    response = post_alerts([sample_batch[0], {**sample_batch[0], "type": "ERROR"}])

    assert [a["status"] for a in response.json()] == [True, True]
    assert Alert.objects.get().type == "ACCALERT"


def test_a_mixed_batch_of_500_is_true_exactly_for_the_committed_items(post_alerts, sample_batch):
    rng = random.Random(500)
    items = []
    for n in range(500):
        roll = rng.random()
        if roll < 0.10 and items:
            items.append(
                dict(rng.choice([i for i in items if isinstance(i, dict) and "id" in i] or [{}]))
            )
        elif roll < 0.15:
            items.append(rng.choice([{"type": "ACCALERT"}, {"id": f"bad-{n}"}, "junk", None]))
        else:
            items.append(
                {**rng.choice(sample_batch), "id": str(uuid.UUID(int=rng.getrandbits(128)))}
            )

    answers = post_alerts(items).json()

    assert len(answers) == 500
    stored = {str(pk) for pk in Alert.objects.values_list("id", flat=True)}
    for item, answer in zip(items, answers, strict=True):
        committed = isinstance(item, dict) and item.get("id") in stored
        assert answer["status"] is committed
    count = Alert.objects.count()
    assert count == len({i["id"] for i in items if isinstance(i, dict) and i.get("id") in stored})
    assert 380 < count < 470

    again = post_alerts(items).json()
    assert again == answers
    assert Alert.objects.count() == count


def test_bad_credentials_are_401_with_a_basic_challenge_and_store_nothing(
    client, crs_credentials, sample_batch
):
    for authorization in [
        None,
        basic_auth("crs-test", "wrong"),
        basic_auth("other", crs_credentials[1]),
        "Basic !!!notbase64",
        "Bearer token",
    ]:
        headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
        response = client.post(
            CRS_URL, json.dumps(sample_batch), content_type="application/json", **headers
        )
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="crs"'
    assert AlertDelivery.objects.count() == 0


def test_the_previous_password_is_accepted_during_a_rotation(settings, post_alerts, sample_batch):
    settings.CRS_WEBHOOK_PASSWORD_PREVIOUS = "old-password"
    assert post_alerts(sample_batch, credentials=("crs-test", "old-password")).status_code == 200
    assert post_alerts(sample_batch, credentials=("crs-test", "pw-0123456789")).status_code == 200


def test_the_previous_password_alone_does_not_open_the_endpoint(
    settings, post_alerts, sample_batch
):
    settings.CRS_WEBHOOK_PASSWORD, settings.CRS_WEBHOOK_PASSWORD_PREVIOUS = "", "old-password"

    response = post_alerts(sample_batch, credentials=("crs-test", "old-password"))

    assert (response.status_code, response.json()["error"]) == (503, "not_configured")
    assert AlertDelivery.objects.count() == 0


def test_without_configured_credentials_it_answers_503(settings, post_alerts, sample_batch):
    settings.CRS_WEBHOOK_PASSWORD = ""
    response = post_alerts(sample_batch, credentials=("crs-test", ""))
    assert response.status_code == 503
    assert AlertDelivery.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"not json", "invalid_json"), (b'"text"', "not_a_batch"), (b"7", "not_a_batch")],
)
def test_a_body_that_is_not_a_batch_is_400_and_kept(post_alerts, body, error):
    response = post_alerts(body)

    assert response.status_code == 400
    assert response.json()["error"] == error
    delivery = AlertDelivery.objects.get()
    assert (bytes(delivery.body), delivery.outcome) == (body, "rejected")


def test_a_body_over_32_mebibytes_is_413(post_alerts):
    response = post_alerts(b"[" + b" " * (32 * 1024 * 1024) + b"]")
    assert response.status_code == 413
    assert AlertDelivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)  # the raw insert runs in autocommit, as in production
def test_a_database_that_cannot_take_the_batch_is_503(post_alerts, sample_batch):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("the database system is shutting down")

    with connection.execute_wrapper(refuse):
        response = post_alerts(sample_batch)

    assert response.status_code == 503 and response["Retry-After"]
    assert AlertDelivery.objects.count() == 0


ODD_ITEMS = {
    "nul in the type": b'"type": "ACC\\u0000ALERT"',
    "surrogate in a text field": b'"error_msg": "boom\\ud800"',
    "nul in a key": b'"extra\\u0000key": 1',
    "surrogate in an unknown value": b'"note": ["\\udfff"]',
    "1e400 as the time": b'"time": 1e400',
    "NaN as the time": b'"time": NaN',
    "400 digits as the alert date": b'"alert_date": ' + b"9" * 400,
    "-Infinity unknown": b'"score": -Infinity',
    "deep nesting": b'"nested": ' + b"[" * 300 + b"]" * 300,
    "a far-off alert date": b'"alert_date": "9999-12-31T23:30:00-05:00"',
}


@pytest.mark.parametrize("member", ODD_ITEMS.values(), ids=list(ODD_ITEMS))
def test_an_odd_item_is_stored_cleaned_and_the_rest_of_the_batch_answered_normally(
    post_alerts, sample_batch, member
):
    first, odd, last = (
        sample_batch[0],
        {**sample_batch[1], "id": str(uuid.uuid4())},
        sample_batch[2],
    )
    key = json.loads(member.split(b":")[0]).replace("\x00", "")
    odd_body = (
        json.dumps({k: v for k, v in odd.items() if k != key}).encode()[:-1] + b", " + member + b"}"
    )
    body = (
        b"[" + b", ".join([json.dumps(first).encode(), odd_body, json.dumps(last).encode()]) + b"]"
    )

    response = post_alerts(body)

    assert response.status_code == 200, response.content
    assert response.json() == [
        {"hook_id": i, "status": True} for i in (first["id"], odd["id"], last["id"])
    ]
    assert Alert.objects.count() == 3
    assert Alert.objects.get(pk=odd["id"]).problems  # what was removed is listed
    assert not Alert.objects.get(pk=first["id"]).problems


@pytest.mark.parametrize("hook_id", [b"NaN", b"1e400", b"-Infinity"])
def test_a_number_that_cannot_be_echoed_as_the_id_is_answered_false_with_a_null_hook_id(
    post_alerts, hook_id
):
    response = post_alerts(b'[{"id": ' + hook_id + b', "type": "TEST"}]')

    assert response.json() == [{"hook_id": None, "status": False}]


@pytest.mark.integration  # PostgreSQL: a trigger plays the refusing database
@pytest.mark.django_db(transaction=True)  # the batch commits as in production
def test_an_item_the_database_still_refuses_is_answered_false_alone(post_alerts, sample_batch):
    """Should the reader ever let through a value the database refuses, that item alone is
    answered false (CRS resends it); the rest of the batch is stored and answered true."""
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION refuse_alert() RETURNS trigger AS $$ BEGIN
                IF NEW.error_msg = 'refuse me' THEN
                    RAISE EXCEPTION 'refused' USING ERRCODE = '22000';
                END IF;
                RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_alert BEFORE INSERT ON alerts_alert
                FOR EACH ROW EXECUTE FUNCTION refuse_alert();
        """)
    try:
        batch = [sample_batch[0], {**sample_batch[1], "error_msg": "refuse me"}, sample_batch[2]]
        response = post_alerts(batch)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER refuse_alert ON alerts_alert; DROP FUNCTION refuse_alert();"
            )

    assert response.status_code == 200
    assert [answer["status"] for answer in response.json()] == [True, False, True]
    assert set(Alert.objects.values_list("id", flat=True)) == {
        uuid.UUID(sample_batch[i]["id"]) for i in (0, 2)
    }
    delivery = AlertDelivery.objects.get()
    assert (delivery.outcome, delivery.accepted) == ("answered", 2)
    assert sample_batch[1]["id"] in delivery.error

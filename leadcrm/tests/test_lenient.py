"""leadcrm.lenient: each reader returns what a column holds or says why not, in one shape."""

import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadcrm import jsonbody, lenient
from leadcrm.lenient import OUT_OF_RANGE, TOO_LONG, WRONG_TYPE, Unreadable
from tests.jsonfuzz import VALUES, body_of

SOME_UUID = "0b6a2a64-6f4c-4d57-9b0e-6c1b7d0b3f2e"


def unreadable(read, *args) -> Unreadable:
    with pytest.raises(Unreadable) as caught:
        read(*args)
    return caught.value


# --- The problem shape ---------------------------------------------------------------------------


def test_a_problem_is_the_three_key_dict_both_partners_store():
    assert lenient.problem("email", TOO_LONG, "longer than 254 characters") == {
        "field": "email",
        "code": "too_long",
        "detail": "longer than 254 characters",
    }


def test_the_codes_are_the_five_the_contract_names():
    assert lenient.CODES == {
        "wrong_type",
        "out_of_range",
        "too_long",
        "unknown_value",
        "unstorable",
    }


def test_a_code_outside_the_five_is_refused():
    with pytest.raises(ValueError, match="unknown problem code"):
        lenient.problem("email", "too long", "longer than 254 characters")


def test_an_unreadable_value_becomes_a_problem_at_the_field_named():
    problem = unreadable(lenient.text, 7, 10).at("businessAddress.city")

    assert problem == {
        "field": "businessAddress.city",
        "code": "wrong_type",
        "detail": "expected a string, got 7",
    }


def test_what_loading_removed_is_an_unstorable_problem_per_change():
    _, changes = jsonbody.load(b'{"a": "x\\u0000", "b": [1, NaN]}')

    assert lenient.unstorable(changes) == [
        {"field": "a", "code": "unstorable", "detail": "NUL characters removed"},
        {
            "field": "b[1]",
            "code": "unstorable",
            "detail": "NaN is not a number that can be stored; stored empty",
        },
    ]


def test_an_unstorable_problem_can_name_the_field_within_its_batch_item():
    _, changes = jsonbody.load(b'[{"id": 1}, {"note": {"k": "\\ud800"}}]')

    assert [p["field"] for p in lenient.unstorable(changes, skip=1)] == ["note.k"]


# --- Showing a value ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("lots", "'lots'"),
        (True, "True"),
        (None, "None"),
        ([1, "a"], "[1, 'a']"),
        (Decimal("1.50"), "1.50"),  # as written, not Decimal('1.50')
        (
            datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
            "9999-12-31T23:30:00-05:00",
        ),
    ],
)
def test_a_value_is_shown_as_a_person_recognises_it(value, shown):
    assert lenient.show(value) == shown


def test_a_long_value_is_cut_to_the_limit_with_an_ellipsis():
    assert lenient.show("a" * 58) == "'" + "a" * 58 + "'"  # 60: not cut
    shown = lenient.show("a" * 59)
    assert len(shown) == 60 and shown.endswith("a…")
    assert lenient.show(10**400).endswith("…") and len(lenient.show(10**400)) == 60


def test_expected_says_what_was_wanted_and_what_came():
    problem = lenient.expected("a number", "lots")
    assert (problem.code, problem.detail) == (WRONG_TYPE, "expected a number, got 'lots'")


# --- Text ----------------------------------------------------------------------------------


def test_text_within_its_limit_is_kept_as_sent():
    assert lenient.text("a" * 32, 32) == "a" * 32
    assert lenient.text("a" * 100_000, None) == "a" * 100_000
    assert lenient.text("", 32) == ""


def test_text_past_its_limit_is_too_long():
    problem = unreadable(lenient.text, "a" * 33, 32)
    assert (problem.code, problem.detail) == (TOO_LONG, "longer than 32 characters")


@pytest.mark.parametrize("value", [7, 1.5, True, None, ["a"], {"a": 1}, Decimal("2")])
def test_anything_but_a_string_is_the_wrong_type_for_text(value):
    problem = unreadable(lenient.text, value, 32)
    assert (problem.code, problem.detail) == (
        WRONG_TYPE,
        f"expected a string, got {lenient.show(value)}",
    )


# --- UUIDs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        SOME_UUID,
        SOME_UUID.upper(),
        SOME_UUID.replace("-", ""),
        "{" + SOME_UUID + "}",  # .NET's "B" format
        "urn:uuid:" + SOME_UUID,
    ],
)
def test_the_usual_ways_of_writing_a_uuid_are_read(text):
    assert lenient.uuid(text) == uuid.UUID(SOME_UUID)


@pytest.mark.parametrize(
    "value",
    [
        "not-a-uuid",
        "",
        SOME_UUID[:-1],
        " " + SOME_UUID,
        "\u0661" * 32,  # Arabic-Indic digits: uuid.UUID alone reads them as 1s
        "1_" + "2" * 30,  # underscores: uuid.UUID alone reads this as a shorter number
        "+" + SOME_UUID[1:],  # a sign: uuid.UUID alone reads it as a 0
        12345,
        True,
        None,
        [SOME_UUID],
    ],
)
def test_anything_else_is_not_a_uuid(value):
    problem = unreadable(lenient.uuid, value)
    assert (problem.code, problem.detail) == (
        WRONG_TYPE,
        f"expected a UUID, got {lenient.show(value)}",
    )


# --- Dates and times -----------------------------------------------------------------------


def test_a_naive_moment_is_taken_as_utc_and_an_aware_one_keeps_its_offset():
    assert lenient.aware(datetime(2026, 11, 21, 4)) == datetime(2026, 11, 21, 4, tzinfo=UTC)
    eastern = datetime(2026, 11, 21, 4, tzinfo=timezone(timedelta(hours=-5)))
    assert lenient.aware(eastern).utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),  # year 10000 in UTC
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # year 0 in UTC
    ],
)
def test_a_moment_whose_utc_time_leaves_the_years_1_to_9999_is_out_of_range(moment):
    problem = unreadable(lenient.aware, moment)
    assert (problem.code, problem.detail) == (OUT_OF_RANGE, f"{moment.isoformat()} is out of range")


@pytest.mark.parametrize(
    "moment",
    [datetime(9999, 12, 31, 23, 59, 59, 999999), datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59)],
)
def test_the_first_and_last_utc_moments_python_reads_are_in_range(moment):
    assert lenient.aware(moment) == moment.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("2026-11-21T04:00:00Z", datetime(2026, 11, 21, 4, tzinfo=UTC)),
        ("2026-11-21T04:00:00", datetime(2026, 11, 21, 4, tzinfo=UTC)),  # no offset: UTC
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),  # a date alone: midnight
        (
            "2026-11-21T04:00:00.1234567-05:00",  # .NET's seven fractional digits
            datetime(2026, 11, 21, 4, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ],
)
def test_an_iso_8601_date_and_time_is_read(text, read):
    assert lenient.iso_datetime(text) == read


@pytest.mark.parametrize(
    "text", ["soon", "", "2026-13-45T00:00:00", "2026-11-21T04:00+24:00", "11/21/2026"]
)
def test_text_that_is_not_iso_8601_is_the_wrong_type(text):
    problem = unreadable(lenient.iso_datetime, text)
    assert (problem.code, problem.detail) == (
        WRONG_TYPE,
        f"expected an ISO 8601 date and time, got {text!r}",
    )


@pytest.mark.parametrize("value", [1763784000, True, None, ["2026-11-21"]])
def test_a_date_and_time_must_be_text(value):
    problem = unreadable(lenient.iso_datetime, value)
    assert (problem.code, problem.detail) == (
        WRONG_TYPE,
        f"expected a date and time, got {value!r}",
    )


def test_an_iso_date_whose_utc_time_is_year_10000_is_out_of_range():
    problem = unreadable(lenient.iso_datetime, "9999-12-31T23:30:00-05:00")
    assert (problem.code, problem.detail) == (
        OUT_OF_RANGE,
        "9999-12-31T23:30:00-05:00 is out of range",
    )


# --- Epoch seconds -------------------------------------------------------------------------

NOV_22 = datetime(2025, 11, 22, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "read"),
    [
        (1763784000, NOV_22),
        (1763784000.5, NOV_22 + timedelta(milliseconds=500)),
        ("1763784000", NOV_22),
        (" 1763784000.0 ", NOV_22),
        ("1.763784e9", NOV_22),
        (1763784000000, NOV_22),  # milliseconds: beyond the year 9999 in seconds
        ("1763784000000", NOV_22),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (-86400, datetime(1969, 12, 31, tzinfo=UTC)),
        (lenient.LATEST_EPOCH_SECONDS, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (lenient.LATEST_EPOCH_SECONDS + 1, datetime(1978, 1, 11, 21, 31, 40, 800000, tzinfo=UTC)),
    ],
)
def test_epoch_seconds_or_milliseconds_are_read_as_a_utc_moment(value, read):
    assert lenient.epoch(value) == read


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        None,
        "soon",
        "",
        " ",
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "1_000",
        "\u0661\u0662",
        "0x10",
        [1],
        {"t": 1},
    ],
)
def test_anything_but_a_number_or_a_number_written_as_text_is_not_epoch_seconds(value):
    problem = unreadable(lenient.epoch, value)
    assert (problem.code, problem.detail) == (
        WRONG_TYPE,
        f"expected epoch seconds, got {lenient.show(value)}",
    )


@pytest.mark.parametrize(
    "value", [10**30, -(10**30), 10**400, 1e308, "1e400", "-1e400", 2**63, -62135596801000]
)
def test_a_number_beyond_the_years_1_to_9999_is_out_of_range(value):
    problem = unreadable(lenient.epoch, value)
    assert (problem.code, problem.detail) == (
        OUT_OF_RANGE,
        f"{lenient.show(value)} is out of range",
    )


def test_the_earliest_millisecond_python_reads_is_in_range():
    assert lenient.epoch(-62135596800000) == datetime(1, 1, 1, tzinfo=UTC)


def test_a_nan_that_got_past_loading_is_still_refused():
    assert unreadable(lenient.epoch, math.nan).code == OUT_OF_RANGE


# --- Whatever comes ------------------------------------------------------------------------

READERS = [
    (lambda value: lenient.text(value, 32), str),
    (lenient.uuid, uuid.UUID),
    (lenient.iso_datetime, datetime),
    (lenient.epoch, datetime),
]


@settings(max_examples=300, deadline=None, database=None)
@given(
    value=VALUES | st.from_regex(r"[0-9 +\-.eE:TZ/_]{0,24}", fullmatch=True),
    reader=st.sampled_from(READERS),
)
def test_whatever_a_body_holds_a_reader_returns_its_type_or_says_why_not(value, reader):
    read, kind = reader
    loaded, _ = jsonbody.load(body_of(value))  # as the partners' readers get their values
    try:
        result = read(loaded)
    except Unreadable as exc:
        assert exc.code in lenient.CODES and exc.detail
    else:
        assert isinstance(result, kind)
        if isinstance(result, datetime):
            assert result.utcoffset() is not None
            result.astimezone(UTC)  # a time every later read of the row can take

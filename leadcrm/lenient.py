"""Reading a partner's values leniently: what cannot be read is stored empty and reported as a
problem, one shape for both partners (`docs/contract.md#warning-codes`).

A reader here takes one decoded value (from `jsonbody.load`, so text holds no NUL or lone
surrogate and numbers are finite) and returns what a column holds, or raises `Unreadable` saying
why: a `code` for programs and a `detail` for a person. Each partner's reader keeps what is its
own (CRF's field specs and lookups, CRS's batch shape and lenient `alert_date`) and names the
field when it turns an `Unreadable` into a `Problem`.
"""

import re
import uuid as uuid_module
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

from django.utils.dateparse import parse_datetime

from leadcrm.jsonbody import Change, dotted

# Why a value was not stored as sent; the codes are listed in docs/contract.md#warning-codes.
WRONG_TYPE = "wrong_type"
OUT_OF_RANGE = "out_of_range"
TOO_LONG = "too_long"
UNKNOWN_VALUE = "unknown_value"
UNSTORABLE = "unstorable"
CODES = frozenset({WRONG_TYPE, OUT_OF_RANGE, TOO_LONG, UNKNOWN_VALUE, UNSTORABLE})

SHOWN_LENGTH = 60  # of a value quoted in a detail: enough to recognise it, never a whole body
LATEST_EPOCH_SECONDS = 253402300799  # 9999-12-31T23:59:59Z: larger numbers are milliseconds
# What uuid.UUID takes, in ASCII only: it would also read "١" as 1, "_" as nothing and a leading
# "+", so two different texts could name one lead or alert.
_UUID_TEXT = re.compile(r"(?:urn:uuid:)?[0-9a-fA-F{}-]+")
# A number written as text, in ASCII digits (float() would take "١٢", "1_000" and "nan").
_NUMBER_TEXT = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*", re.ASCII)


class Problem(TypedDict):
    """A value not stored as sent: CRF's warnings, a lead's data problems, an alert's problems."""

    field: str  # the partner's name for it, dotted for nested keys (`businessAddress.city`)
    code: str  # one of CODES
    detail: str  # a sentence for a person


def problem(field: str, code: str, detail: str) -> Problem:
    if code not in CODES:
        raise ValueError(f"unknown problem code {code!r}")
    return Problem(field=field, code=code, detail=detail)


class Unreadable(ValueError):
    """A value a reader cannot take as the field's value."""

    def __init__(self, detail: str, code: str = WRONG_TYPE):
        super().__init__(detail)
        self.detail, self.code = detail, code

    def at(self, field: str) -> Problem:
        return problem(field, self.code, self.detail)


def show(value: Any, limit: int = SHOWN_LENGTH) -> str:
    """A value as a detail quotes it: its repr (a decimal and a date as written), cut."""
    if isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def expected(what: str, value: Any) -> Unreadable:
    return Unreadable(f"expected {what}, got {show(value)}")


def out_of_range(value: Any) -> Unreadable:
    return Unreadable(f"{show(value)} is out of range", OUT_OF_RANGE)


def unstorable(changes: Iterable[Change], *, skip: int = 0) -> list[Problem]:
    """What `jsonbody.load` changed to make a body storable, as problems; `skip` leaves out the
    leading parts of each path (a batch's item index), so the field is named within its item."""
    return [problem(dotted(change.path[skip:]), UNSTORABLE, change.detail) for change in changes]


def text(value: Any, limit: int | None) -> str:
    if not isinstance(value, str):
        raise expected("a string", value)
    if limit and len(value) > limit:
        raise Unreadable(f"longer than {limit} characters", TOO_LONG)
    return value


def uuid(value: Any) -> uuid_module.UUID:
    if isinstance(value, str) and _UUID_TEXT.fullmatch(value):
        try:
            return uuid_module.UUID(value)
        except ValueError:
            pass
    raise expected("a UUID", value)


def aware(moment: datetime) -> datetime:
    """The moment with UTC for a missing offset, if its UTC time is one Python can read back
    (years 1 to 9999): PostgreSQL would store 9999-12-31T23:00-05:00 as a year-10000 UTC time,
    and every later read of the row would fail."""
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise out_of_range(moment) from None
    return moment


def iso_datetime(value: Any) -> datetime:
    """An ISO 8601 date and time (a date alone is midnight; .NET's seven fractional digits are
    taken); without an offset, UTC."""
    if not isinstance(value, str):
        raise expected("a date and time", value)
    try:
        parsed = parse_datetime(value)
    except ValueError:  # the shape of one, with a month 13 or an offset of a day
        parsed = None
    if parsed is None:
        raise expected("an ISO 8601 date and time", value)
    return aware(parsed)


def epoch(value: Any) -> datetime:
    """Epoch seconds, a number or text holding one; a number beyond the year 9999 in seconds is
    milliseconds."""
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        number: Any = float(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    else:
        raise expected("epoch seconds", value)
    try:
        seconds = number / 1000 if abs(number) > LATEST_EPOCH_SECONDS else number
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):  # beyond the years 1 to 9999 ("1e400" is inf)
        raise out_of_range(value) from None

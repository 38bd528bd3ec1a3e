"""Reading a CRS notification batch (docs/contract.md#7-crs-alert-intake) into model values,
without touching the database.

Every usable item (one with a UUID `id`) is stored: a field of the wrong shape is stored empty and
listed in the alert's `problems`; unknown keys are kept in `extra`. Whatever an item holds, its
values fit the columns, so one bad item can never fail the bulk insert of the whole batch.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from dateutil import parser as dateutil_parser

from leadcrm import jsonbody, lenient
from leadcrm.lenient import WRONG_TYPE, Problem, Unreadable

KNOWN_KEYS = {
    "id",
    "type",
    "user_id",
    "host_id",
    "time",
    "error_code",
    "error_msg",
    "alert_id",
    "alert_date",
    "alert_source",
}
TEXT_FIELDS = {
    "type": 32,
    "error_code": 255,
    "error_msg": None,
    "alert_id": 255,
    "alert_source": 255,
}
# Alert field → how it is read, and what is stored when it is missing or unreadable.
FIELDS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    **{name: (partial(lenient.text, limit=limit), "") for name, limit in TEXT_FIELDS.items()},
    "user_id": (lenient.uuid, None),
    "host_id": (lenient.uuid, None),
    "time": (lenient.epoch, None),
}


class NotABatch(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class Item:
    hook_id: Any  # echoed in the answer: what came as `id`, or None
    values: dict[str, Any] | None  # Alert field values; None when the item is unusable


def read_batch(body: bytes) -> list[Item]:
    try:
        data, changes = jsonbody.load(body)
    except (ValueError, RecursionError):
        raise NotABatch("invalid_json", "The body is not valid JSON.") from None
    if isinstance(data, dict):
        data = [data]  # a single notification is a batch of one
        changes = [jsonbody.Change((0, *change.path), change.detail) for change in changes]
    if not isinstance(data, list):
        raise NotABatch("not_a_batch", "The body must be a JSON array of notifications.")
    # What loading removed to make an item storable is listed among that item's problems.
    by_item: dict[int, list[jsonbody.Change]] = {}
    for change in changes:
        if change.path:
            by_item.setdefault(change.path[0], []).append(change)
    return [
        read_item(item, lenient.unstorable(by_item.get(i, []), skip=1))
        for i, item in enumerate(data)
    ]


def read_item(item: Any, removed: list[Problem] | None = None) -> Item:
    if not isinstance(item, dict):
        return Item(None, None)
    raw_id = item.get("id")
    echoable = isinstance(raw_id, str | int | float) and not isinstance(raw_id, bool)
    hook_id = raw_id if echoable else None
    try:
        notification_id = lenient.uuid(raw_id)
    except Unreadable:
        return Item(hook_id, None)
    problems: list[Problem] = list(removed or [])
    values = {
        "id": notification_id,
        **{name: _field(item, name, *how, problems) for name, how in FIELDS.items()},
        **_alert_date(item.get("alert_date"), problems),
        "extra": {key: value for key, value in item.items() if key not in KNOWN_KEYS},
    }
    values["problems"] = problems
    return Item(hook_id, values)


def _field(item: dict, name: str, read: Callable[[Any], Any], empty: Any, problems: list) -> Any:
    """The item's value read, or `empty` when it is missing, or listed as a problem."""
    value = item.get(name)
    if value is None:
        return empty
    try:
        return read(value)
    except Unreadable as exc:
        problems.append(exc.at(name))
        return empty


def _alert_date(value: Any, problems: list) -> dict[str, Any]:
    """`alert_date` parsed leniently; what was sent is always kept."""
    if value is None:
        return {"alert_date": None, "alert_date_sent": ""}
    sent = value if isinstance(value, str) else json.dumps(value)
    try:
        parsed = lenient.epoch(value) if isinstance(value, int | float) else _lenient_date(value)
    except Unreadable as exc:
        parsed = None
        unread = f"could not read {lenient.show(value)} as a date"
        detail = unread if exc.code == WRONG_TYPE else exc.detail  # out of range says so
        problems.append(lenient.problem("alert_date", exc.code, f"{detail}; kept as sent"))
    return {"alert_date": parsed, "alert_date_sent": sent[:255]}


def _lenient_date(value: Any) -> datetime:
    """ISO 8601 first (with .NET's seven fractional digits), then whatever dateutil reads."""
    if not isinstance(value, str) or not value.strip():
        raise lenient.expected("a date", value)
    try:
        return lenient.iso_datetime(value.strip())
    except Unreadable as exc:
        if exc.code != WRONG_TYPE:
            raise
    try:
        parsed = dateutil_parser.parse(value)
    except (ValueError, OverflowError):
        raise lenient.expected("a date", value) from None
    return lenient.aware(parsed)

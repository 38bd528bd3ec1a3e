"""Reading a CRS notification batch (seed 003) into model values, without touching the database.

Every usable item (one with a UUID `id`) is stored: a field of the wrong shape is stored empty and
listed in the alert's `problems`; unknown keys are kept in `extra`. Whatever an item holds, its
values fit the columns, so one bad item can never fail the bulk insert of the whole batch.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dateutil import parser as dateutil_parser
from django.utils.dateparse import parse_datetime

from leadcrm import jsonbody

KNOWN_KEYS = {
    "id", "type", "user_id", "host_id", "time", "error_code", "error_msg", "alert_id",
    "alert_date", "alert_source",
}
TEXT_FIELDS = {"type": 32, "error_code": 255, "error_msg": None, "alert_id": 255, "alert_source": 255}
LATEST_EPOCH_SECONDS = 253402300799  # 9999-12-31: larger numbers are read as milliseconds


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
    removed: dict[int, list[dict[str, str]]] = {}
    for change in changes:
        if change.path:
            removed.setdefault(change.path[0], []).append(
                {"field": jsonbody.dotted(change.path[1:]), "detail": change.detail}
            )
    return [read_item(item, removed.get(i, [])) for i, item in enumerate(data)]


def read_item(item: Any, removed: list[dict[str, str]] | None = None) -> Item:
    if not isinstance(item, dict):
        return Item(None, None)
    raw_id = item.get("id")
    hook_id = raw_id if isinstance(raw_id, str | int | float) and not isinstance(raw_id, bool) else None
    notification_id = _uuid(raw_id)
    if notification_id is None:
        return Item(hook_id, None)
    problems: list[dict[str, str]] = list(removed or [])
    values = {
        "id": notification_id,
        **{name: _text(item, name, limit, problems) for name, limit in TEXT_FIELDS.items()},
        "user_id": _uuid_field(item, "user_id", problems),
        "host_id": _uuid_field(item, "host_id", problems),
        "time": _epoch_field(item, "time", problems),
        **_alert_date(item.get("alert_date"), problems),
        "extra": {key: value for key, value in item.items() if key not in KNOWN_KEYS},
    }
    values["problems"] = problems
    return Item(hook_id, values)


def _problem(problems: list, field: str, detail: str) -> None:
    problems.append({"field": field, "detail": detail})


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _uuid_field(item: dict, name: str, problems: list) -> uuid.UUID | None:
    value = item.get(name)
    parsed = _uuid(value)
    if value is not None and parsed is None:
        _problem(problems, name, f"expected a UUID, got {_show(value)}")
    return parsed


def _text(item: dict, name: str, limit: int | None, problems: list) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        _problem(problems, name, f"expected a string, got {_show(value)}")
        return ""
    if limit and len(value) > limit:
        _problem(problems, name, f"longer than {limit} characters")
        return ""
    return value


def _epoch_field(item: dict, name: str, problems: list) -> datetime | None:
    value = item.get(name)
    if value is None:
        return None
    moment = _epoch(value)
    if moment is None:
        _problem(problems, name, f"expected epoch seconds, got {_show(value)}")
    return moment


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000 if abs(value) > LATEST_EPOCH_SECONDS else value
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):  # beyond the years 1 to 9999, or NaN
        return None


def _alert_date(value: Any, problems: list) -> dict[str, Any]:
    """`alert_date` parsed leniently; what was sent is always kept."""
    if value is None:
        return {"alert_date": None, "alert_date_sent": ""}
    sent = value if isinstance(value, str) else json.dumps(value)
    parsed = _epoch(value) if isinstance(value, int | float) else _lenient_date(value)
    if parsed is None:
        _problem(problems, "alert_date", f"could not read {_show(value)} as a date; kept as sent")
    return {"alert_date": parsed, "alert_date_sent": sent[:255]}


def _lenient_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parse_datetime(value.strip()) or dateutil_parser.parse(value)
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        parsed.astimezone(timezone.utc)  # stored as UTC: it must be a year Python can read back
    except (ValueError, OverflowError):
        return None
    return parsed

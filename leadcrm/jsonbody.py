"""A partner's JSON body decoded into values that every place LeadCRM puts them can hold.

JSON allows what PostgreSQL's text and jsonb, Python's float and the JSON renderer cannot: NUL
characters, lone UTF-16 surrogates, NaN and Infinity, numbers beyond a double, nesting without
end. `load` is the one place a body becomes values, for both partners: such parts are removed (a
string loses the characters; a number, or a value nested too deep, becomes null) and each change
is reported, to be listed as a warning. So a delivery answered 2xx can always be stored and
processed; it never fails forever on a value the database refuses.
"""

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# A lead nests three levels, a CRS batch two: anything deeper than this is emptied.
MAX_DEPTH = 32
# The largest double: what JSON readers (JavaScript, spreadsheets, Python's float) hold.
LARGEST_NUMBER = Decimal("1.7976931348623157e308")
MAX_INTEGER_DIGITS = 310  # longer is beyond LARGEST_NUMBER, and cheap to refuse before int()
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
_UTF8_BOM = b"\xef\xbb\xbf"

Path = tuple[str | int, ...]  # keys and list positions from the top of the body


@dataclass(frozen=True)
class Change:
    path: Path
    detail: str

    @property
    def field(self) -> str:
        return dotted(self.path)


class _Unstorable:
    """A number JSON allows and nothing downstream holds: NaN, Infinity, 1e400, 400 digits."""

    def __init__(self, text: str):
        self.text = text


def load(body: bytes, *, exact: bool = False) -> tuple[Any, list[Change]]:
    """The decoded body, and what was changed to make it storable. ValueError when not JSON.

    `exact`: numbers with a fraction as Decimal (CRF's money and rates), else as float.
    """
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM) :]  # RFC 8259 lets a reader ignore it; .NET may send one
    # As json.loads decodes bytes: surrogates written as raw bytes come through, to be removed.
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    hooks = _Hooks(exact)
    data = json.loads(
        text, parse_float=hooks.fraction, parse_int=hooks.integer, parse_constant=hooks.constant
    )
    if not (hooks.unstorable or _may_hold_unstorable_text(text) or _nests_deeper(text, data)):
        return data, []  # the common case: nothing to clean, the values are storable as they came
    changes: list[Change] = []
    return _clean(data, (), changes), changes


def plain(value: Any) -> Any:
    """A loaded value for a JSONField: exact decimals back to plain numbers (finite, in range)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def dotted(path: Path) -> str:
    """`businessAddress.city`, `collateralTypes[2]`, `[3].time`: a path as a person reads it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


class _Hooks:
    def __init__(self, exact: bool):
        self.exact = exact
        self.unstorable = False

    def _refuse(self, text: str) -> _Unstorable:
        self.unstorable = True
        return _Unstorable(text)

    def fraction(self, text: str):
        try:
            number = Decimal(text)
        except InvalidOperation:
            return self._refuse(text)
        if abs(number) > LARGEST_NUMBER:
            return self._refuse(text)
        return number if self.exact else float(number)

    def integer(self, text: str):
        if len(text) > MAX_INTEGER_DIGITS or abs(int(text)) > LARGEST_NUMBER:
            return self._refuse(text)
        return int(text)

    def constant(self, text: str):  # NaN, Infinity, -Infinity
        return self._refuse(text)


def _may_hold_unstorable_text(text: str) -> bool:
    return "\\u" in text or bool(_UNSTORABLE_TEXT.search(text))  # escaped, or as raw bytes


def _nests_deeper(text: str, data: Any) -> bool:
    """Whether a list or object sits MAX_DEPTH levels down. The brackets first, a bound (those
    in strings count too): a lead has too few. A batch has one per item: its values are walked."""
    return text.count("{") + text.count("[") > MAX_DEPTH and _deeper(data, MAX_DEPTH - 1)


def _deeper(value: Any, levels: int) -> bool:
    if not isinstance(value, dict | list):
        return False
    if levels < 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(_deeper(child, levels - 1) for child in children if isinstance(child, dict | list))


def _clean(value: Any, path: Path, changes: list[Change]) -> Any:
    if isinstance(value, str):
        return _clean_text(value, path, changes)
    if isinstance(value, _Unstorable):
        shown = value.text if len(value.text) <= 40 else value.text[:39] + "…"
        changes.append(Change(path, f"{shown} is not a number that can be stored; stored empty"))
        return None
    if not isinstance(value, dict | list):
        return value
    if len(path) >= MAX_DEPTH:
        changes.append(Change(path, f"nested deeper than {MAX_DEPTH} levels; stored empty"))
        return None
    if isinstance(value, list):
        return [_clean(item, (*path, i), changes) for i, item in enumerate(value)]
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        clean_key = _clean_text(key, (*path, key), changes)
        if clean_key in cleaned:
            changes.append(Change((*path, clean_key), "a key repeated once cleaned; first kept"))
            continue
        cleaned[clean_key] = _clean(item, (*path, clean_key), changes)
    return cleaned


def _clean_text(text: str, path: Path, changes: list[Change]) -> str:
    if not _UNSTORABLE_TEXT.search(text):
        return text
    removed = []
    if "\x00" in text:
        removed.append("NUL characters")
    if re.search("[\ud800-\udfff]", text):
        removed.append("lone UTF-16 surrogates")
    changes.append(Change(_printable(path), " and ".join(removed) + " removed"))
    return _UNSTORABLE_TEXT.sub("", text)


def _printable(path: Path) -> Path:
    """A path whose keys may themselves hold what is being removed."""
    return tuple(_UNSTORABLE_TEXT.sub("", p) if isinstance(p, str) else p for p in path)

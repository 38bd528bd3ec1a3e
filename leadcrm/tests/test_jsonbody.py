"""leadcrm.jsonbody: what JSON allows and nothing downstream holds is removed, and said so."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadcrm import jsonbody
from tests.jsonfuzz import DEEP, VALUES, body_of


def load(text: str | bytes, **kwargs):
    return jsonbody.load(text.encode() if isinstance(text, str) else text, **kwargs)


@pytest.mark.parametrize(
    "token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 400, "-" + "9" * 5000]
)
def test_a_number_nothing_can_hold_is_emptied_and_reported(token):
    data, changes = load(f'{{"a": {{"b": [1, {token}]}}}}')

    assert data == {"a": {"b": [1, None]}}
    assert [change.field for change in changes] == ["a.b[1]"]
    assert "stored empty" in changes[0].detail


def test_numbers_a_double_holds_stay_as_they_came():
    data, changes = load('{"big": 1e308, "int": %s, "tiny": 1e-400, "x": 0.1}' % ("9" * 300))

    assert (data["big"], data["int"], data["tiny"], data["x"], changes) == (
        1e308,
        int("9" * 300),
        0.0,
        0.1,
        [],
    )


@pytest.mark.parametrize(
    "escaped, field",
    [
        ('"a\\u0000b"', "k"),
        ('"a\\ud800b"', "k"),
        ('"\\udfff\\u0000"', "k"),
        ('["x\\udbff"]', "k[0]"),
    ],
)
def test_nul_characters_and_lone_surrogates_are_removed_from_text(escaped, field):
    data, changes = load(f'{{"k": {escaped}}}')

    text = json.dumps(data, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogate left to fail the encoding
    assert "\x00" not in text
    assert [change.field for change in changes] == [field]
    assert "removed" in changes[0].detail


def test_surrogates_sent_as_raw_bytes_are_removed_too():
    data, changes = load(b'{"k": "a\xed\xa0\x80b"}')  # U+D800 written as UTF-8 bytes

    assert data == {"k": "ab"} and len(changes) == 1


def test_a_key_is_cleaned_and_a_key_it_then_repeats_is_dropped_with_a_warning():
    data, changes = load('{"status": "Matched", "sta\\u0000tus": "Funded", "n\\ud800ote": 1}')

    assert data == {"status": "Matched", "note": 1}
    assert [change.field for change in changes] == ["status", "status", "note"]


def test_nesting_deeper_than_the_limit_is_emptied():
    depth = jsonbody.MAX_DEPTH + 200
    data, changes = load('{"x": ' + '{"a": ' * depth + "1" + "}" * depth + "}")

    node, levels = data, 0
    while isinstance(node, dict):
        node, levels = next(iter(node.values())), levels + 1
    assert node is None and levels == jsonbody.MAX_DEPTH
    assert len(changes) == 1 and "deeper than" in changes[0].detail


@pytest.mark.parametrize("depth", [jsonbody.MAX_DEPTH - 1, jsonbody.MAX_DEPTH])
def test_a_long_batch_is_emptied_exactly_where_it_nests_too_deep(depth):
    """A batch has more brackets than the limit, one pair per item: its depth is what counts."""
    deep = "[" * depth + "]" * depth
    data, changes = load("[" + '{"a": 1}, ' * 100 + deep + "]")

    too_deep = depth + 1 > jsonbody.MAX_DEPTH  # the batch's own list is a level
    assert len(changes) == (1 if too_deep else 0)
    assert data[:100] == [{"a": 1}] * 100


def test_brackets_inside_strings_nest_nothing():
    body = '[{"note": "' + "[" * 100 + '"}]'
    assert load(body) == ([{"note": "[" * 100}], [])


def test_decimals_are_exact_when_asked_and_plain_numbers_for_json_fields():
    data, _ = load('{"amount": 25000.10}', exact=True)

    assert str(data["amount"]) == "25000.10"
    assert jsonbody.plain(data) == {"amount": 25000.1}


def test_a_utf8_byte_order_mark_is_ignored():
    assert load(b'\xef\xbb\xbf{"a": 1}') == ({"a": 1}, [])


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xff\xfe\x00"])
def test_what_is_not_json_is_a_value_error(body):
    with pytest.raises(ValueError):
        jsonbody.load(body)


@settings(max_examples=300, deadline=None)
@given(VALUES | DEEP, st.booleans())
def test_whatever_json_comes_what_it_loads_to_can_be_stored_and_rendered(value, exact):
    data, changes = jsonbody.load(body_of(value), exact=exact)

    text = json.dumps(jsonbody.plain(data), ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    assert "\x00" not in text
    assert all(isinstance(change.field, str) and change.detail for change in changes)
    again, more = jsonbody.load(text.encode())
    assert more == []  # clean once, clean for good
    assert not any(isinstance(n, float) and not math.isfinite(n) for n in _numbers(again))


def _numbers(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, float):
        yield value

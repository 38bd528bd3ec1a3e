"""Generated JSON as a partner could send it, the values JSON allows and storage does not
included (NUL, lone surrogates, NaN, 1e400, 400 digits, deep nesting), written as body text."""

import json
from typing import Any

from hypothesis import strategies as st


class Token(str):
    """A number written as it is, where json.dumps could not write it (NaN, 1e400, …)."""


TOKENS = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e400", "-2e999", "7" * 400, "1e-999", "-0", "0.1e1"]
).map(Token)
TEXT = st.text(st.characters(codec=None, categories=None), max_size=12)  # surrogates, NUL too
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
    | TOKENS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
DEEP = st.integers(min_value=30, max_value=400).map(lambda depth: Token("[" * depth + "]" * depth))


def text_of(value: Any) -> str:
    """The JSON text of a value (lone surrogates and NUL as \\u escapes)."""
    if isinstance(value, Token):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{text_of(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(text_of(v) for v in value) + "]"
    return json.dumps(value)


def body_of(value: Any) -> bytes:
    return text_of(value).encode()

"""The strict JSON reader: I-JSON in, exactly; anything else refused naming its place."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.canonical import canonical_json
from service.domain.strict_json import MAX_DEPTH, MAX_EXACT_INTEGER, MalformedJsonError, loads


@pytest.mark.parametrize(
    ("text", "place", "reason"),
    [
        ('{"a": NaN}', "a", "NaN is not a JSON number"),
        ('{"a": [Infinity]}', "a[0]", "Infinity is not a JSON number"),
        ('{"a": {"b": -Infinity}}', "a.b", "-Infinity is not a JSON number"),
        ('{"answers": {"phq9_1": 1e309}}', "answers.phq9_1", "too large for a double"),
        (f'{{"n": {2**70}}}', "n", "2**53 - 1"),
        (f'{{"n": {-(2**53)}}}', "n", "2**53 - 1"),
        ('{"n": ' + "9" * 5000 + "}", "", "2**53 - 1"),  # too long for int(): no place
        ('{"s": "\\ud800"}', "s", "lone surrogate"),
        ('{"s": ["ok", "\\udc00x"]}', "s[1]", "lone surrogate"),
        ('{"\\ud800": 1}', "", "lone surrogate"),
        ('{"s": "a\\u0000"}', "s", "NUL"),
        ('{"s": "é\\u0000"}', "s", "NUL"),
        ('{"a": 1, "a": 2}', "", "the key 'a' appears more than once"),
        ('{"o": {"\\u0000k": 1, "\\u0000k": 2}}', "o", "the key '\\\\u0000k' appears"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[0]" * MAX_DEPTH, "nested deeper"),
        ("[" * 1200, "", "nested deeper than 32 levels"),
        ('{"a": 1', "", "not JSON"),
        ("", "", "not JSON"),
    ],
)
def test_each_kind_of_fault_is_refused_naming_its_place(text: str, place: str, reason: str) -> None:
    with pytest.raises(MalformedJsonError) as refused:
        loads(text.encode("utf-8", "surrogatepass"))
    assert refused.value.place == place
    assert reason in refused.value.reason


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(MalformedJsonError, match="not UTF-8"):
        loads(b'{"a": "\xff"}')


def test_values_at_the_edges_are_read_exactly() -> None:
    text = (
        f'{{"max": {MAX_EXACT_INTEGER}, "min": {-MAX_EXACT_INTEGER}, "big": 1.7976931348623157e308,'
        ' "tiny": 5e-324, "text": "é 😀", "nested": '
        + "[" * (MAX_DEPTH - 1)
        + "]" * (MAX_DEPTH - 1)
        + "}"
    )
    value = loads(text)
    assert value["max"] == MAX_EXACT_INTEGER and value["min"] == -MAX_EXACT_INTEGER
    assert math.isfinite(value["big"]) and value["tiny"] > 0
    assert value["text"] == "é 😀"
    canonical_json(value)  # what the Idempotency-Key fingerprint does with a body


def i_json_values() -> st.SearchStrategy[object]:
    text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-MAX_EXACT_INTEGER, MAX_EXACT_INTEGER)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=30,
    )


@settings(max_examples=300)
@given(i_json_values())
def test_any_i_json_value_reads_back_equal_and_canonicalises(value: object) -> None:
    assert loads(json.dumps(value)) == value
    canonical_json(loads(json.dumps(value)))


@settings(max_examples=300)
@given(
    st.binary(max_size=200)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_arbitrary_bytes_are_read_or_refused_never_anything_else(data: bytes) -> None:
    try:
        loads(data)
    except MalformedJsonError as refused:
        refused.reason.encode("utf-8")  # the reason can go into a response as it is
        refused.place.encode("utf-8")

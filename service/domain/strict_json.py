"""The one JSON reader for request bodies: I-JSON (RFC 7493) and nothing looser.

Python's ``json`` accepts what the rest of the service cannot keep: ``NaN`` and
``Infinity``, ``1e309`` (read as infinity), integers no double holds exactly (RFC 8785
canonical JSON, which hashes and signs what we store, refuses them), lone surrogates
(no UTF-8 form, so neither the database nor a log can take them), NUL characters
(PostgreSQL text cannot hold them), duplicate keys (two readers may keep different ones)
and nesting deep enough to exhaust the stack. This module refuses each of them and says
where, e.g. ``answers.phq9_1``.

It stays in ``domain/`` because it is pure: it knows nothing of HTTP, so the API, the
CLI and the offline verifier can all read JSON by the same rules.

Cost: the C decoder does the parsing. Its hooks (numbers, constants, objects) leave a
marker where a value is refused instead of raising, since a hook cannot know its place;
one walk over the decoded value, bounded by ``MAX_DEPTH``, then checks strings and depth
and names the place of the first marker it meets.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
"""Objects and arrays nest at most this deep; our deepest body (answers) needs 3."""

MAX_EXACT_INTEGER = 2**53 - 1
"""I-JSON and RFC 8785: integers beyond this are not exact in an IEEE 754 double."""

_MAX_INTEGER_DIGITS = len(str(MAX_EXACT_INTEGER)) + 1  # a sign or a leading zero at most


class MalformedJsonError(ValueError):
    """The text is not I-JSON; ``place`` is the path of the fault ("" for the whole)."""

    def __init__(self, place: str, reason: str):
        super().__init__(f"{place or 'the body'}: {reason}")
        self.place = place
        self.reason = reason


class _Refused:
    """Left in the decoded value by a decoder hook; the walk reports it with its place."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _parse_int(text: str) -> int | _Refused:
    # Checking the length first keeps a megabyte of digits from being converted at all.
    if len(text) <= _MAX_INTEGER_DIGITS:
        number = int(text)
        if -MAX_EXACT_INTEGER <= number <= MAX_EXACT_INTEGER:
            return number
    return _Refused(f"integers must lie within ±{MAX_EXACT_INTEGER} (2**53 - 1)")


def _parse_float(text: str) -> float | _Refused:
    number = float(text)
    if math.isfinite(number):
        return number
    return _Refused("the number is too large for a double")


def _parse_constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Refused:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return _Refused(f"the key {printable(key)!r} appears more than once")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a key repeats")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object,
    parse_float=_parse_float,
    parse_int=_parse_int,
    parse_constant=_parse_constant,
)


def loads(data: bytes | str) -> Any:
    """Decode one JSON text (UTF-8 if bytes) by the I-JSON rules, or raise
    MalformedJsonError naming the place of the first fault."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise MalformedJsonError("", f"not UTF-8 (byte {exc.start})") from None
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedJsonError(
            "", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedJsonError("", f"nested deeper than {MAX_DEPTH} levels") from None
    _check(value, "", 0)
    return value


def _check(value: Any, place: str, depth: int) -> None:
    if isinstance(value, str):
        _check_string(value, place)
    elif isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise MalformedJsonError(place, f"nested deeper than {MAX_DEPTH} levels")
        for key, item in value.items():
            _check_string(key, place)
            _check(item, f"{place}.{key}" if place else key, depth + 1)
    elif isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise MalformedJsonError(place, f"nested deeper than {MAX_DEPTH} levels")
        for index, item in enumerate(value):
            _check(item, f"{place}[{index}]", depth + 1)
    elif isinstance(value, _Refused):
        raise MalformedJsonError(place, value.reason)


def _check_string(text: str, place: str) -> None:
    if text.isascii():
        if "\x00" in text:
            raise MalformedJsonError(place, "NUL characters (\\u0000) are not accepted")
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedJsonError(place, "a lone surrogate (\\ud800-\\udfff) is not text") from None
    if "\x00" in text:
        raise MalformedJsonError(place, "NUL characters (\\u0000) are not accepted")


def printable(text: str) -> str:
    """At most 40 characters of the text, lone surrogates and NUL escaped (valid UTF-8)."""
    escaped = text[:40].encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.replace("\x00", "\\u0000")

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

Cost: the C decoder does the parsing. Two hooks (NaN and Infinity; each object, for
repeated keys) leave a marker where a value is refused instead of raising, since a hook
cannot know its place. One walk over the decoded value, bounded by ``MAX_DEPTH``, checks
numbers, strings, depth and markers without building any place name; only when it finds a
fault does a second walk name its place. About 10 µs more than ``json.loads`` for a 2 KB
answers body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 32
"""Objects and arrays nest at most this deep; our deepest body (answers) needs 3."""

MAX_EXACT_INTEGER = 2**53 - 1
"""I-JSON and RFC 8785: integers beyond this are not exact in an IEEE 754 double."""

_INTEGER_REASON = f"integers must lie within ±{MAX_EXACT_INTEGER} (2**53 - 1)"
_NUL_REASON = "NUL characters (\\u0000) are not accepted"
_SURROGATE_REASON = "a lone surrogate (\\ud800-\\udfff) is not text"


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
    except ValueError:  # int() refuses over 4,300 digits, before any check of ours
        raise MalformedJsonError("", _INTEGER_REASON) from None
    # Without a \u escape, the strict UTF-8 decoding has already excluded NUL and lone
    # surrogates, so the walk can skip the strings (most bodies).
    if not _clean_root(value, "\\u" in text):
        _locate(value, "", 0)
    return value


def _clean_root(value: Any, escapes: bool) -> bool:
    if type(value) is dict or type(value) is list:
        return _clean(value, 0, escapes)
    return _clean([value], -1, escapes)


def _clean(container: dict[str, Any] | list[Any], depth: int, escapes: bool) -> bool:
    """Whether a container holds no fault: the fast path, which builds no place names."""
    if depth >= MAX_DEPTH:
        return False
    items: Iterable[Any]
    item: Any
    if type(container) is dict:
        if escapes and not all(_clean_text(key) for key in container):
            return False
        items = container.values()
    else:
        items = container
    for item in items:
        kind = type(item)
        if kind is int:
            if not -MAX_EXACT_INTEGER <= item <= MAX_EXACT_INTEGER:
                return False
        elif kind is str:
            if escapes and not _clean_text(item):
                return False
        elif kind is dict or kind is list:
            if not _clean(item, depth + 1, escapes):
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind is _Refused:
            return False
    return True


def _clean_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _locate(value: Any, place: str, depth: int) -> None:
    """Raise MalformedJsonError for the first fault, named by its place (the slow path)."""
    if isinstance(value, str):
        if not _clean_text(value):
            raise MalformedJsonError(place, _NUL_REASON if "\x00" in value else _SURROGATE_REASON)
    elif type(value) is int and not -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
        raise MalformedJsonError(place, _INTEGER_REASON)
    elif type(value) is float and not math.isfinite(value):
        raise MalformedJsonError(place, "the number is too large for a double")
    elif isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise MalformedJsonError(place, f"nested deeper than {MAX_DEPTH} levels")
    elif isinstance(value, dict):
        for key, item in value.items():
            _locate(key, place, depth)
            _locate(item, f"{place}.{key}" if place else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _locate(item, f"{place}[{index}]", depth + 1)
    elif isinstance(value, _Refused):
        raise MalformedJsonError(place, value.reason)


def printable(text: str) -> str:
    """At most 40 characters of the text, lone surrogates and NUL escaped (valid UTF-8)."""
    escaped = text[:40].encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.replace("\x00", "\\u0000")

"""The audit export file (``psam-ledger-export/2``): writing its records, reading it strictly.

The file is JSON lines, each the RFC 8785 canonical JSON of one record, in three sections:

    {"kind":"header", "format", "log", "length", "checkpoints", "public_key_id", "exported_at"}
    {"kind":"entry", "seq", "prev_hash", "hash", "event"}            one per entry, by seq
    {"kind":"checkpoint", "note"}                                    one per checkpoint

Reading refuses, naming the line, anything that is not exactly that: a line that is not
canonical (so the bytes an auditor reads are the bytes that were hashed), a duplicate key,
a non-finite or oversized number, nesting deeper than ``MAX_DEPTH``, a missing or extra key,
a record out of its section. Blank lines and whitespace around a line are ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.domain.canonical import canonical_json
from service.domain.ledger import LOGS, Checkpoint, Entry
from service.domain.signed_note import NoteError, parse

EXPORT_FORMAT = "psam-ledger-export/2"
MAX_DEPTH = 32
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BLANK = " \t\r\n"
HEADER_KEYS = {"kind", "format", "log", "length", "checkpoints", "public_key_id", "exported_at"}
ENTRY_KEYS = {"kind", "seq", "prev_hash", "hash", "event"}
CHECKPOINT_KEYS = {"kind", "note"}
KINDS = {"header", "entry", "checkpoint"}


class MalformedExport(ValueError):
    """The input cannot be read as what it claims to be; ``where`` names the line or item."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = where


@dataclass
class Export:
    log: str
    declared_length: int
    declared_checkpoints: int
    public_key_id: str
    entries: list[Entry] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return result


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth_ok(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def strict_json(text: str) -> Any:
    """Parse JSON refusing duplicate keys, NaN, infinities and deep nesting (ValueError)."""
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_finite,
            parse_constant=_refuse_constant,
        )
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH}") from None
    if not _depth_ok(value):
        raise ValueError(f"nested deeper than {MAX_DEPTH}")
    return value


def canonical_line(record: Mapping[str, Any]) -> str:
    """One line of an export: the record's RFC 8785 JSON and a newline."""
    return canonical_json(dict(record)).decode("utf-8") + "\n"


def header_record(
    log: str, length: int, checkpoints: int, key_id: str, exported_at: str
) -> dict[str, Any]:
    return {
        "kind": "header",
        "format": EXPORT_FORMAT,
        "log": log,
        "length": length,
        "checkpoints": checkpoints,
        "public_key_id": key_id,
        "exported_at": exported_at,
    }


def entry_record(entry: Entry) -> dict[str, Any]:
    return {
        "kind": "entry",
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "event": dict(entry.event),
    }


def checkpoint_record(checkpoint: Checkpoint) -> dict[str, Any]:
    return {"kind": "checkpoint", "note": checkpoint.note()}


def _count(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _record(where: str, raw: bytes) -> dict[str, Any] | None:
    """The canonical JSON object on a line, or None for a blank line."""
    try:
        text = raw.decode("utf-8").strip(_BLANK)
    except UnicodeDecodeError:
        raise MalformedExport(where, "not UTF-8") from None
    if not text:
        return None
    try:
        parsed = strict_json(text)
        if not isinstance(parsed, dict):
            raise MalformedExport(where, "not a JSON object")
        record: dict[str, Any] = parsed
        canonical = canonical_json(record).decode("utf-8")
    except MalformedExport:
        raise
    except ValueError as exc:
        raise MalformedExport(where, f"not strict JSON ({exc})") from None
    if canonical != text:
        raise MalformedExport(where, "not in RFC 8785 canonical form")
    return record


def _keys(where: str, record: Mapping[str, Any], expected: set[str]) -> None:
    if set(record) != expected:
        raise MalformedExport(where, f"a {record.get('kind')} record has keys {sorted(expected)}")


def _checkpoint(where: str, record: Mapping[str, Any]) -> Checkpoint:
    note = record.get("note")
    if not isinstance(note, str):
        raise MalformedExport(where, "a checkpoint's note is not a string")
    try:
        body, signatures = parse(note)
    except NoteError as exc:
        raise MalformedExport(where, f"not a checkpoint note ({exc})") from None
    return Checkpoint(body.log, body.length, body.head_hash, body.time, tuple(signatures))


def _entry(where: str, record: Mapping[str, Any]) -> Entry:
    _keys(where, record, ENTRY_KEYS)
    seq, prev_hash, hash_, event = (record[k] for k in ("seq", "prev_hash", "hash", "event"))
    if not _count(seq, 1):
        raise MalformedExport(where, "seq is not a whole number from 1")
    if not (isinstance(prev_hash, str) and _HEX64.fullmatch(prev_hash)):
        raise MalformedExport(where, "prev_hash is not 64 lowercase hex digits")
    if not (isinstance(hash_, str) and _HEX64.fullmatch(hash_)):
        raise MalformedExport(where, "hash is not 64 lowercase hex digits")
    if not isinstance(event, dict):
        raise MalformedExport(where, "the event is not a JSON object")
    return Entry(seq, prev_hash, hash_, event)


def _header(where: str, record: Mapping[str, Any]) -> Export:
    if record.get("kind") != "header":
        raise MalformedExport(where, "the first line is not the header")
    _keys(where, record, HEADER_KEYS)
    if record["format"] != EXPORT_FORMAT:
        raise MalformedExport(where, f"the format is not {EXPORT_FORMAT}: export the log again")
    if record["log"] not in LOGS:
        raise MalformedExport(where, f"the log is not one of {', '.join(LOGS)}")
    if not (_count(record["length"], 0) and _count(record["checkpoints"], 0)):
        raise MalformedExport(where, "length and checkpoints are not whole numbers")
    if not (isinstance(record["public_key_id"], str) and isinstance(record["exported_at"], str)):
        raise MalformedExport(where, "public_key_id and exported_at are not strings")
    return Export(record["log"], record["length"], record["checkpoints"], record["public_key_id"])


def read_export(lines: Iterable[bytes]) -> Export:
    """The records of an export file, given as its lines; MalformedExport names the line."""
    export: Export | None = None
    for number, raw in enumerate(lines, start=1):
        where = f"line {number}"
        record = _record(where, raw)
        if record is None:
            continue
        if export is None:
            export = _header(where, record)
            continue
        kind = record.get("kind")
        if kind == "entry":
            if export.checkpoints:
                raise MalformedExport(where, "an entry after the checkpoints")
            export.entries.append(_entry(where, record))
        elif kind == "checkpoint":
            _keys(where, record, CHECKPOINT_KEYS)
            export.checkpoints.append(_checkpoint(where, record))
        else:
            raise MalformedExport(where, f"a record of kind {str(kind)[:20]!r} here")
    if export is None:
        raise MalformedExport("line 1", "no header: not an export of this service")
    return export


def read_kept_checkpoints(data: bytes) -> list[Checkpoint]:
    """Checkpoints an auditor kept: the JSON of GET /api/v1/audit/checkpoints, or JSON lines
    of which the checkpoint records count (an earlier export, or its checkpoint lines)."""
    try:
        whole = strict_json(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        whole = None
    if isinstance(whole, dict) and "checkpoints" in whole:
        items = whole["checkpoints"]
        if not isinstance(items, list):
            raise MalformedExport("kept checkpoints", "'checkpoints' is not a list")
        found = []
        for number, item in enumerate(items, start=1):
            where = f"kept checkpoint {number}"
            if not isinstance(item, dict):
                raise MalformedExport(where, "not a JSON object")
            found.append(_checkpoint(where, item))
        return found
    found = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"kept checkpoints line {number}"
        try:
            text = raw.decode("utf-8").strip(_BLANK)
            record = strict_json(text) if text else None
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedExport(where, f"not strict JSON ({exc})") from None
        if record is None:
            continue
        if not isinstance(record, dict) or record.get("kind") not in {
            "header",
            "entry",
            "checkpoint",
        }:
            raise MalformedExport(where, "not a record of an export")
        if record["kind"] == "checkpoint":
            found.append(_checkpoint(where, record))
    return found

"""Decrypted responses -> analyst rows: the columns of an export, its codebook, CSV and NDJSON.

Columns: the fixed ones, then one per item in definition order (a multi-choice item as one
0/1 column per option, ``<item>___<code>``), then each score and, where it has bands, its band.
Free-text items only when asked for; items marked ``identifying`` never. When an export spans
several versions of an instrument, the columns are those of the first version followed by any
that later versions add, so one file holds them all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.domain.instruments import Instrument, Item, Score

FIXED_COLUMNS = (
    "study_id",
    "timepoint",
    "instrument",
    "version",
    "instrument_hash",
    "response_id",
    "submitted_at",
)


@dataclass(frozen=True)
class Column:
    """One export column and what an analyst needs to read it."""

    name: str
    label: str
    type: str  # string, integer, number, boolean, date, code, binary
    item: str | None = None
    code: int | None = None  # for a multi-choice option column
    codes: tuple[tuple[int, str], ...] = field(default=())
    score: str | None = None
    band: bool = False


_ITEM_TYPES = {
    "choice": "code",
    "integer": "integer",
    "decimal": "number",
    "text": "string",
    "date": "date",
    "boolean": "boolean",
}


def item_columns(item: Item) -> list[Column]:
    codes = tuple((c.code, c.label) for c in item.choices)
    if item.type == "multi_choice":
        chosen = ((0, "not chosen"), (1, "chosen"))
        return [
            Column(f"{item.id}___{code}", f"{item.text} [{label}]", "binary", item.id, code, chosen)
            for code, label in codes
        ]
    return [Column(item.id, item.text, _ITEM_TYPES[item.type], item.id, codes=codes)]


def score_columns(score: Score) -> list[Column]:
    kind = "boolean" if score.method == "rule" else "number"
    columns = [Column(score.id, score.label, kind, score=score.id)]
    if score.bands:
        bands = tuple((i, b.label) for i, b in enumerate(score.bands))
        columns.append(
            Column(
                f"{score.id}_band",
                f"{score.label}: band",
                "string",
                score=score.id,
                codes=bands,
                band=True,
            )
        )
    return columns


def columns_for(instrument: Instrument, *, include_free_text: bool) -> list[Column]:
    """The item and score columns of one instrument version."""
    columns: list[Column] = []
    for item in instrument.items:
        if item.identifying or (item.type == "text" and not include_free_text):
            continue
        columns.extend(item_columns(item))
    for score in instrument.scores:
        columns.extend(score_columns(score))
    return columns


def merged_columns(versions: Sequence[Instrument], *, include_free_text: bool) -> list[Column]:
    """Columns across versions, oldest first: later versions only add what is new."""
    seen: dict[str, Column] = {}
    for instrument in versions:
        for column in columns_for(instrument, include_free_text=include_free_text):
            seen.setdefault(column.name, column)
    return list(seen.values())


def row_values(
    columns: Sequence[Column],
    answers: Mapping[str, Any],
    scores: Sequence[Mapping[str, Any]],
    *,
    labels: bool,
) -> list[Any]:
    """The item and score values of one response, in column order (None when absent)."""
    by_score = {s["id"]: s for s in scores}
    values: list[Any] = []
    for column in columns:
        if column.score is not None:
            score = by_score.get(column.score)
            values.append(None if score is None else score["band" if column.band else "value"])
        elif column.code is not None:
            given = answers.get(column.item or "")
            values.append(None if given is None else int(column.code in given))
        else:
            value = answers.get(column.item or "")
            if labels and column.codes and value is not None:
                value = dict(column.codes).get(value, value)
            values.append(value)
    return values


def header(columns: Sequence[Column]) -> list[str]:
    return [*FIXED_COLUMNS, *(c.name for c in columns)]


def csv_line(values: Iterable[Any]) -> str:
    """One RFC 4180 record (CRLF-terminated); booleans as 1/0, missing as empty."""
    return csv_lines([["" if v is None else int(v) if isinstance(v, bool) else v for v in values]])


def csv_lines(records: Iterable[list[Any]], booleans: Sequence[int] = ()) -> str:
    """RFC 4180 records from one writer, each as ``csv_line`` writes it; only the positions
    in ``booleans`` can hold a boolean (written as 1/0). The records are changed in place."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # writes None as an empty field
    for values in records:
        for position in booleans:
            value = values[position]
            if isinstance(value, bool):
                values[position] = int(value)
        writer.writerow(values)
    return buffer.getvalue()


def boolean_positions(columns: Sequence[Column]) -> list[int]:
    """Where, in a row of ``header(columns)``, a value may be a boolean."""
    return [len(FIXED_COLUMNS) + i for i, c in enumerate(columns) if c.type == "boolean"]


def ndjson_line(names: Sequence[str], values: Sequence[Any]) -> str:
    return json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False) + "\n"


def ndjson_lines(names: Sequence[str], records: Iterable[Sequence[Any]]) -> str:
    return "".join(ndjson_line(names, values) for values in records)


def codebook(versions: Sequence[Instrument], *, include_free_text: bool) -> dict[str, Any]:
    """Per version: every column with label, type and codes; score definitions and bands."""
    return {
        "instrument": versions[0].id if versions else None,
        "fixed_columns": list(FIXED_COLUMNS),
        "versions": [
            {
                "version": inst.version,
                "sha256": inst.sha256,
                "title": inst.title,
                "columns": [
                    {
                        "name": c.name,
                        "label": c.label,
                        "type": c.type,
                        "item": c.item,
                        "codes": [{"code": code, "label": label} for code, label in c.codes],
                    }
                    for c in columns_for(inst, include_free_text=include_free_text)
                ],
                "scores": [
                    {
                        "id": s.id,
                        "label": s.label,
                        "method": s.method,
                        "items": list(s.referenced_items()),
                        "reverse": sorted(s.reverse),
                        "bands": [{"min": b.min, "max": b.max, "label": b.label} for b in s.bands],
                    }
                    for s in inst.scores
                ],
            }
            for inst in versions
        ],
    }

"""Decrypted responses -> analyst rows: the columns of an export, its codebook, CSV and NDJSON.

Columns: the fixed ones, then one per item in definition order (a multi-choice item as one
0/1 column per option, ``<item>___<code>``), then each score and, where it has bands, its band.
Free-text items only when asked for; items marked ``identifying`` never. When an export spans
several versions of an instrument, the columns are those of the first version followed by any
that later versions add, so one file holds them all.

The fixed columns depend on how the export is pseudonymised: with study IDs they carry the
response id and the exact submission time; with per-export pseudonyms the response id is a
keyed hash of this export and the time is the UTC day (or left out), so that no column lets
two exports be joined or a row be traced back without the service.

In CSV, a text cell that a spreadsheet would run as a formula (one beginning with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with a single quote, as OWASP
advises; numbers stay numbers, and NDJSON carries every value exactly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.domain.instruments import PRORATE, Instrument, Item, Score, in_language

PSEUDONYMS = ("study-id", "per-export")
SUBMITTED = ("time", "day", "none")  # how much of the submission time an export carries
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_NOTE = (
    "In CSV, a text value beginning with =, +, -, @, a tab or a carriage return is written "
    "with a single quote (') in front, so that a spreadsheet shows it as text instead of "
    "running it as a formula; remove that first quote to get the exact answer back. Numbers "
    "are never changed. NDJSON carries every value exactly."
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
    note: str | None = None
    # Filled from the response's own record (not its answers), under this name.
    response: str | None = None


# The columns after the items and scores: what the service added after the first exports,
# so earlier files' columns keep their places.
LAST_COLUMNS = (
    Column(
        "response_language",
        "Language the response was answered in (BCP 47 tag)",
        "string",
        response="language",
        note="The codes mean the same in every language; the codebook lists each language's "
        "labels. Empty for responses started before the service recorded it (revision "
        "0011): every version was then in English (en-GB).",
    ),
)


def fixed_columns(pseudonyms: str = "study-id", submitted: str = "time") -> list[Column]:
    """The columns before the items: who, when and what, as this kind of export writes them."""
    per_export = pseudonyms == "per-export"
    columns = [
        Column(
            "study_id",
            "Participant",
            "string",
            note="A pseudonym for this export only (PX-...): the same participant has another "
            "one in every other export"
            if per_export
            else "The participant's study ID",
        ),
        Column("timepoint", "Timepoint of the study protocol", "string"),
        Column("instrument", "Instrument id", "string"),
        Column("version", "Instrument version", "string"),
        Column("instrument_hash", "SHA-256 of the instrument version's definition", "string"),
        Column(
            "consent_version",
            "Consent form version in force when the response was submitted",
            "string",
            note="Empty for responses submitted before the service recorded it (revision "
            "0008); the consent log has the signature in force at their submission time",
        ),
        Column(
            "response_id",
            "Response",
            "string",
            note="A keyed hash of the response id for this export only (RX-...); rows are "
            "sorted by it, so their order says nothing about when or by whom they were given"
            if per_export
            else "The response's id in the service",
        ),
    ]
    if submitted == "time":
        columns.append(Column("submitted_at", "When the response was submitted (UTC)", "datetime"))
    elif submitted == "day":
        columns.append(
            Column(
                "submitted_on",
                "The day the response was submitted (UTC)",
                "date",
                note="The time of day is left out so that two exports cannot be joined on it",
            )
        )
    return columns


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
    columns = [Column(score.id, score.label, kind, score=score.id, note=score_note(score))]
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
    record: Mapping[str, Any] | None = None,
    own_labels: Mapping[str, Mapping[int, str]] | None = None,
) -> list[Any]:
    """The item and score values of one response, in column order (None when absent), and
    those of the columns ``record`` (the response's own) fills. With ``labels``, a code's
    label is its own version's (``own_labels``, by column), else the column's."""
    by_score = {s["id"]: s for s in scores}
    values: list[Any] = []
    for column in columns:
        if column.response is not None:
            values.append((record or {}).get(column.response))
        elif column.score is not None:
            score = by_score.get(column.score)
            values.append(None if score is None else score["band" if column.band else "value"])
        elif column.code is not None:
            given = answers.get(column.item or "")
            values.append(None if given is None else int(column.code in given))
        else:
            value = answers.get(column.item or "")
            if labels and column.codes and value is not None:
                known = (own_labels or {}).get(column.name) or dict(column.codes)
                value = known.get(value, value)
            values.append(value)
    return values


def labels_by_version(versions: Sequence[Instrument]) -> dict[str, dict[str, dict[int, str]]]:
    """Each version's code labels, by column name: a row is labelled in its own version's
    words (and language), whichever version's column heads the file."""
    return {
        inst.version: {
            c.name: dict(c.codes)
            for c in columns_for(inst, include_free_text=True)
            if c.codes and c.score is None
        }
        for inst in versions
    }


def header(fixed: Sequence[Column], columns: Sequence[Column]) -> list[str]:
    return [c.name for c in (*fixed, *columns)]


def neutralised(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP: a leading single quote)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_line(values: Iterable[Any]) -> str:
    """One RFC 4180 record (CRLF-terminated); booleans as 1/0, missing as empty, and every
    text cell neutralised."""
    cells = [
        ""
        if v is None
        else int(v)
        if isinstance(v, bool)
        else neutralised(v)
        if isinstance(v, str)
        else v
        for v in values
    ]
    return csv_lines([cells])


def csv_lines(
    records: Iterable[list[Any]], booleans: Sequence[int] = (), texts: Sequence[int] = ()
) -> str:
    """RFC 4180 records from one writer, each as ``csv_line`` writes it; only the positions
    in ``booleans`` can hold a boolean (written as 1/0) and only those in ``texts`` text that
    someone typed or chose (neutralised). The records are changed in place."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # writes None as an empty field
    for values in records:
        for position in booleans:
            value = values[position]
            if isinstance(value, bool):
                values[position] = int(value)
        for position in texts:
            value = values[position]
            # Only strings: a negative number in a numeric column stays a number.
            if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
                values[position] = "'" + value
        writer.writerow(values)
    return buffer.getvalue()


def boolean_positions(fixed: Sequence[Column], columns: Sequence[Column]) -> list[int]:
    """Where, in a row of ``header(fixed, columns)``, a value may be a boolean."""
    return [len(fixed) + i for i, c in enumerate(columns) if c.type == "boolean"]


def text_positions(
    fixed: Sequence[Column], columns: Sequence[Column], *, labels: bool
) -> list[int]:
    """Where, in a row of ``header(fixed, columns)``, a value may be text from outside the
    service: free text, band labels, and option labels when ``labels`` is asked for (and
    dates, which are checked but cost little to guard). The fixed columns hold ids the
    service makes or checks against a pattern, none of which can begin like a formula."""
    return [
        len(fixed) + i
        for i, c in enumerate(columns)
        if c.type in ("string", "date") or (labels and c.type == "code")
    ]


def ndjson_line(names: Sequence[str], values: Sequence[Any]) -> str:
    return json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False) + "\n"


def ndjson_lines(names: Sequence[str], records: Iterable[Sequence[Any]]) -> str:
    return "".join(ndjson_line(names, values) for values in records)


def score_note(score: Score) -> str:
    """A score column's rule in the codebook: missing answers, source, caveats."""
    parts = [f"Missing answers: {missing_rule_text(score)}"]
    if score.missing_source:
        parts.append(f"({score.missing_source})")
    if score.source:
        parts.append(f"Source: {score.source}")
    if score.note:
        parts.append(score.note)
    if not score.participant_visible:
        parts.append("Not shown to participants.")
    return " ".join(parts)


def _note(column: Column) -> str | None:
    if column.note is not None:
        return column.note
    if column.type == "string":  # free text and band labels
        return FORMULA_NOTE
    if column.type == "code":
        return "With labels=true, the option's label instead of its code. " + FORMULA_NOTE
    return None


def missing_rule_text(score: Score) -> str:
    """What a score does when items it needs were skipped, in words."""
    if score.method == "mean":
        return "The mean of the items answered; none answered: empty."
    if score.missing_rule == PRORATE:
        return (
            f"With up to {score.max_missing} of its {len(score.items)} items skipped: the mean "
            f"of the items answered times {len(score.items)}, rounded half up; more: empty."
        )
    return "Withheld (empty) when any item it needs was skipped."


def codebook(
    versions: Sequence[Instrument],
    *,
    include_free_text: bool,
    pseudonyms: str = "study-id",
    submitted: str = "time",
) -> dict[str, Any]:
    """The fixed columns as this kind of export writes them, then per version every column
    with label, type, codes and notes; score definitions and bands."""
    return {
        "instrument": versions[0].id if versions else None,
        "pseudonyms": pseudonyms,
        "submitted": submitted,
        "notes": [FORMULA_NOTE],
        "fixed_columns": [
            {"name": c.name, "label": c.label, "type": c.type, "note": c.note}
            for c in fixed_columns(pseudonyms, submitted)
        ],
        "last_columns": [
            {"name": c.name, "label": c.label, "type": c.type, "note": c.note} for c in LAST_COLUMNS
        ],
        "versions": [
            {
                "version": inst.version,
                "sha256": inst.sha256,
                "title": inst.title,
                "languages": list(inst.languages),
                "columns": [
                    {
                        "name": c.name,
                        "label": c.label,
                        "type": c.type,
                        "item": c.item,
                        "codes": [{"code": code, "label": label} for code, label in c.codes],
                        "note": _note(c),
                        "translations": translated.get(c.name, {}),
                    }
                    for translated in [_translated_columns(inst, include_free_text)]
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
                        "participant_visible": s.participant_visible,
                        "missing_rule": missing_rule_text(s),
                        "missing_source": s.missing_source,
                        "source": s.source,
                        "note": s.note,
                    }
                    for s in inst.scores
                ],
            }
            for inst in versions
        ],
    }


def _translated_columns(
    inst: Instrument, include_free_text: bool
) -> dict[str, dict[str, dict[str, Any]]]:
    """Each column's label and codes' labels in the version's other languages (the codes
    themselves are the same in each), by column name and language."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for tag in inst.languages[1:]:
        for c in columns_for(in_language(inst, tag), include_free_text=include_free_text):
            found.setdefault(c.name, {})[tag] = {
                "label": c.label,
                "codes": [{"code": code, "label": label} for code, label in c.codes],
            }
    return found


def codebook_csv(book: Mapping[str, Any]) -> str:
    """The codebook as a table: the fixed columns (no version), then each version's columns.
    A spreadsheet opens it too, so its text is neutralised like an export's."""
    names = ["version", "sha256", "column", "label", "type", "item", "codes", "note", "language"]
    lines = [csv_line(names)]
    # The same in every version: the fixed columns first, and those every export ends with.
    for column in (*book["fixed_columns"], *book.get("last_columns", ())):
        lines.append(
            csv_line(
                [
                    "",
                    "",
                    column["name"],
                    column["label"],
                    column["type"],
                    "",
                    "",
                    column["note"],
                    "",
                ]
            )
        )
    for version in book["versions"]:
        default = (version.get("languages") or [""])[0]
        for column in version["columns"]:
            shown = [(default, column), *column.get("translations", {}).items()]
            for language, text in shown:
                codes = "|".join(f"{c['code']}={c['label']}" for c in text["codes"])
                lines.append(
                    csv_line(
                        [
                            version["version"],
                            version["sha256"],
                            column["name"],
                            text["label"],
                            column["type"],
                            column["item"],
                            codes,
                            column["note"],
                            language,
                        ]
                    )
                )
    return "".join(lines)

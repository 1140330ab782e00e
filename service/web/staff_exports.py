"""The analysts' console pages: the export form, past exports with their manifests, and
the codebook. A download is the same streamed export as the JSON API's (the same schema,
the same access-log events and manifest)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request
from marshmallow import ValidationError

from schemas.exports import CodebookQuerySchema, ExportQuerySchema
from service.api.access import current_principal, staff_page
from service.api.exports import codebook_answer, stream_export
from service.api.reading import page_query
from service.db import get_session
from service.resources import trail_of
from service.services import catalogue, exports
from service.web.staff import blp, flatten_faults, render, with_faults

EXPORT_FIELDS = tuple(ExportQuerySchema().fields)
CHOICES = {
    "format": (
        ("csv", "CSV (a spreadsheet, R, Stata)"),
        ("ndjson", "NDJSON (one JSON object a line)"),
    ),
    "pseudonyms": (
        ("study-id", "Study IDs"),
        ("per-export", "Pseudonyms for this export only (cannot be linked to another export)"),
    ),
    "submitted": (
        ("", "The default (the time, or the day with pseudonyms for this export only)"),
        ("time", "Time submitted"),
        ("day", "Day submitted"),
        ("none", "No submission date"),
    ),
}


def _form(asked: dict[str, Any], faults: dict[str, str]) -> Response:
    rows = [r for r in catalogue.list_versions(get_session()) if r.kind != "consent"]
    instruments = sorted({(r.instrument_id, r.title) for r in rows})
    return render(
        "staff/exports.html",
        422 if faults else 200,
        asked=asked,
        instruments=[{"value": "", "text": "Choose an instrument"}]
        + [
            {"value": i, "text": f"{title} ({i})", "selected": asked.get("instrument") == i}
            for i, title in instruments
        ],
        versions=rows,
        choices={
            name: [
                {"value": value, "text": text, "checked": asked.get(name, pairs[0][0]) == value}
                for value, text in pairs
            ]
            for name, pairs in CHOICES.items()
        },
        past=exports.list_manifests(get_session(), 20, trail=trail_of(current_principal())),
        **with_faults(faults),
    )


@blp.route("/exports", methods=["GET"])
@staff_page("analyst")
def export_form() -> Response:
    """The export form, the codebook and the last 20 exports with their manifests."""
    return _form({}, {})


@blp.route("/exports/download", methods=["GET"])
@staff_page("analyst")
@page_query(*EXPORT_FIELDS)
def export_download() -> Response:
    """The file the form asks for, streamed; faults come back on the form."""
    asked = _asked()
    try:
        query = ExportQuerySchema().load(asked)
    except ValidationError as exc:
        return _form(asked, flatten_faults(exc.messages))
    return stream_export(query)


@blp.route("/exports/codebook", methods=["GET"])
@staff_page("analyst")
@page_query("instrument", "format")
def codebook_download() -> Response:
    """The codebook of an instrument's versions, as CSV, to read beside an export."""
    asked = {k: v for k, v in request.args.items() if v}
    try:
        query = CodebookQuerySchema().load({**asked, "format": asked.get("format", "csv")})
    except ValidationError as exc:
        return _form(asked, flatten_faults(exc.messages))
    answer = codebook_answer(query)
    extension = "csv" if query["format"] == "csv" else "json"
    answer.headers["Content-Disposition"] = (
        f'attachment; filename="codebook-{query["instrument"]}.{extension}"'
    )
    return answer


@blp.route("/exports/<uuid:export_id>", methods=["GET"])
@staff_page("analyst")
def export_manifest(export_id: uuid.UUID) -> Response:
    """One export's manifest: who, when, filters, versions, rows and the file's SHA-256."""
    found = exports.get_manifest(get_session(), export_id, trail=trail_of(current_principal()))
    return render("staff/manifest.html", manifest=found)


def _asked() -> dict[str, Any]:
    """The form's fields as the schema reads them: blanks left out, dates as UTC midnight,
    checkboxes as booleans, versions as a list."""
    asked: dict[str, Any] = {k: v for k, v in request.args.items() if v and k != "version"}
    versions = [v for v in request.args.getlist("version") if v]
    if versions:
        asked["version"] = versions
    for name in ("submitted_since", "submitted_until"):
        if name in asked and len(asked[name]) == 10:  # a date input: YYYY-MM-DD
            asked[name] += "T00:00:00+00:00"
    for name in ("labels", "include_free_text"):
        if name in asked:
            asked[name] = asked[name] == "true"
    return asked

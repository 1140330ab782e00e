"""Analyst exports: streamed CSV or NDJSON, the codebook, and the manifests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from flask_smorest import Blueprint

from schemas.exports import (
    CodebookQuerySchema,
    ExportQuerySchema,
    ManifestListSchema,
    ManifestSchema,
)
from service.api.access import current_principal, refuse_head, requires_roles
from service.api.examples import CODEBOOK_CSV, CODEBOOK_JSON, EXPORT_CSV, EXPORT_NDJSON
from service.api.languages import requested_language
from service.db import get_db, get_session
from service.domain.export import codebook, codebook_csv
from service.domain.fhir import FhirBase
from service.models import ExportManifest
from service.resources import get_keys, ledger_writer, trail_of
from service.services import exports

blp = Blueprint("exports", __name__, url_prefix="/api/v1/exports", description="For analysts")

# The headers every streamed export (CSV, NDJSON, FHIR) answers with.
EXPORT_HEADERS = {
    "X-Export-Id": {"schema": {"type": "string", "format": "uuid"}},
    "X-Export-Read-From": {
        "description": "primary, or replica when exports read a standby",
        "schema": {"type": "string", "enum": ["primary", "replica"]},
    },
    "X-Export-Data-As-Of": {
        "description": "Every change committed up to this time is in the export (absent "
        "while a standby has replayed no transaction since it started)",
        "schema": {"type": "string", "format": "date-time"},
    },
}
_STREAM_DOC = {
    "responses": {
        "200": {
            "description": "One row per submitted response; the X-Export-Id header names the "
            "manifest, completed when the stream ends",
            "headers": EXPORT_HEADERS,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": EXPORT_CSV},
                "application/x-ndjson": {"schema": {"type": "string"}, "example": EXPORT_NDJSON},
            },
        }
    }
}


@blp.route("/responses", methods=["GET"])
@requires_roles("analyst")
@blp.arguments(ExportQuerySchema, location="query")
@blp.doc(**_STREAM_DOC)
def export_responses(query: dict[str, Any]) -> Response:
    """Submitted responses of one instrument, decrypted and streamed, consent-aware."""
    return export_from_query(query)


def export_from_query(query: dict[str, Any]) -> Response:
    """The export a loaded ``ExportQuerySchema`` asks for, as a streamed download (the
    staff console's export form answers with this too)."""
    request = export_request(query, query["format"], labels=query["labels"])
    extension = "csv" if request.format == "csv" else "ndjson"
    return stream_export(request, extension)


def export_request(
    query: dict[str, Any], fmt: str, *, labels: bool = False
) -> exports.ExportRequest:
    """The export a loaded query asks for (the CSV/NDJSON export's, or the FHIR export's)."""
    return exports.ExportRequest(
        instrument=query["instrument"],
        versions=query["version"],
        timepoint=query.get("timepoint"),
        submitted_since=query.get("submitted_since"),
        submitted_until=query.get("submitted_until"),
        consent_clause=query.get("consent_clause"),
        format=fmt,
        labels=labels,
        include_free_text=query["include_free_text"],
        pseudonyms=query["pseudonyms"],
        submitted=query.get("submitted"),
        lang=requested_language(query["lang"]) if "lang" in query else None,
    )


def stream_export(
    request: exports.ExportRequest, extension: str, *, fhir: FhirBase | None = None
) -> Response:
    """Begin an export (manifest, access log), then stream it; its end is recorded when the
    stream ends, also when the client goes away."""
    refuse_head()
    session, principal, keys, db = get_session(), current_principal(), get_keys(), get_db()
    # The rows come from the export database (a standby when one is set; no write lock on
    # SQLite); the manifest and the access log go to the primary.
    export = exports.begin_export(session, ledger_writer(session), principal, request, fhir=fhir)
    reading = db.export_sessionmaker()
    try:
        point = export.point = exports.read_point(reading)
    except Exception:  # e.g. the standby is down: the export is recorded as aborted
        reading.close()
        exports.finish_export(session, ledger_writer(session), principal, export, False)
        raise
    primary = db.read_sessionmaker if db.export_engine is not None else None

    def stream() -> Iterator[bytes]:
        completed = False
        try:
            yield from exports.export_chunks(reading, keys, export, primary=primary)
            completed = True
        finally:
            reading.close()  # ends the cursor, also when the client has gone
            exports.finish_export(session, ledger_writer(session), principal, export, completed)

    response = Response(stream_with_context(stream()), content_type=export.media_type)
    response.headers["X-Export-Id"] = str(export.id)
    response.headers["X-Export-Read-From"] = point.source
    as_of = exports.iso_utc(point.as_of)
    if as_of is not None:
        response.headers["X-Export-Data-As-Of"] = as_of
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{request.instrument}-{export.id}.{extension}"'
    )
    return response


@blp.route("/codebook", methods=["GET"])
@requires_roles("analyst")
@blp.arguments(CodebookQuerySchema, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "Per version: columns with labels, types and codes; scores; hash",
            "content": {
                "application/json": {"schema": {"type": "object"}, "example": CODEBOOK_JSON},
                "text/csv": {"schema": {"type": "string"}, "example": CODEBOOK_CSV},
            },
        }
    }
)
def get_codebook(query: dict[str, Any]) -> Response:
    """What every column of an export means, per instrument version."""
    return codebook_answer(query)


def codebook_answer(query: dict[str, Any]) -> Response:
    """The codebook a loaded ``CodebookQuerySchema`` asks for, as JSON or CSV."""
    request = exports.ExportRequest(
        instrument=query["instrument"],
        versions=query["version"],
        pseudonyms=query["pseudonyms"],
        submitted=query.get("submitted"),
        lang=requested_language(query["lang"]) if "lang" in query else None,
    )
    versions = exports.codebook_versions(get_session(), request, trail_of(current_principal()))
    book = codebook(
        versions,
        include_free_text=query["include_free_text"],
        pseudonyms=request.pseudonyms,
        submitted=request.submitted_as,
    )
    if query["format"] == "json":
        return Response(json.dumps(book, ensure_ascii=False), content_type="application/json")
    return Response(codebook_csv(book), content_type="text/csv; charset=utf-8")


@blp.route("", methods=["GET"])
@requires_roles("analyst")
@blp.response(200, ManifestListSchema)
def list_exports() -> dict[str, Any]:
    """Exports, newest first, with their manifests."""
    return {"exports": exports.list_manifests(get_session(), trail=trail_of(current_principal()))}


@blp.route("/<uuid:export_id>", methods=["GET"])
@requires_roles("analyst")
@blp.response(200, ManifestSchema)
def get_export(export_id: uuid.UUID) -> ExportManifest:
    """One export's manifest: who, when, filters, versions and hashes, rows, SHA-256."""
    return exports.get_manifest(get_session(), export_id, trail=trail_of(current_principal()))

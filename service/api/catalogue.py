"""The instrument catalogue and the consent form in force."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint

from schemas.api import CatalogueSchema, ConsentFormSchema, InstrumentVersionSchema
from service.api.access import public
from service.db import get_session
from service.models import InstrumentVersion
from service.services import catalogue

blp = Blueprint("catalogue", __name__, url_prefix="/api/v1", description="Instruments and consent")


@blp.route("/instruments", methods=["GET"])
@public
@blp.response(200, CatalogueSchema)
def list_instruments() -> dict[str, Any]:
    """Every instrument and consent form with its published versions and their hashes."""
    rows = catalogue.list_versions(get_session())
    instruments = []
    for instrument_id, group in groupby(rows, key=lambda r: r.instrument_id):
        versions = list(group)
        instruments.append(
            {
                "id": instrument_id,
                "title": versions[-1].title,
                "kind": versions[-1].kind,
                "versions": versions,
            }
        )
    return {"instruments": instruments}


_ETAG_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": "If-None-Match",
            "required": False,
            "schema": {"type": "string"},
            "description": "An ETag from an earlier answer: 304 when it still matches.",
        }
    ],
    "responses": {
        "304": {"description": "Not modified: the definition has the ETag sent"},
    },
}
_ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "The content hash, quoted"}}


@blp.route("/instruments/<instrument_id>/versions/<version>", methods=["GET"])
@public
@blp.doc(**_ETAG_DOC)
@blp.response(200, InstrumentVersionSchema, headers=_ETAG_HEADER)
def get_instrument_version(instrument_id: str, version: str) -> InstrumentVersion | Response:
    """One published definition; its ETag is its content hash, which never changes."""
    row = catalogue.get_version(get_session(), instrument_id, version)
    etag = row.sha256
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=86400"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    return row, 200, headers  # type: ignore[return-value]


@blp.route("/consent/form", methods=["GET"])
@public
@blp.response(200, ConsentFormSchema)
def get_consent_form() -> dict[str, Any]:
    """The consent form in force: version, hash and clauses to sign."""
    row = catalogue.current_consent_form(get_session())
    definition = row.definition
    return {
        "id": row.instrument_id,
        "version": row.version,
        "sha256": row.sha256,
        "title": row.title,
        "information_sheet_version": definition["information_sheet_version"],
        "preamble": definition.get("preamble"),
        "clauses": definition["items"],
        "changes": definition.get("changes", []),
        "reconsent": definition.get("reconsent"),
    }

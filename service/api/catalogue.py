"""The instrument catalogue and the consent form in force."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint

from schemas.api import CatalogueSchema, ConsentFormSchema, InstrumentVersionSchema
from service.api.access import public
from service.api.languages import LANG_DESCRIPTION, LanguageQuerySchema, requested_language
from service.db import get_session
from service.domain.i18n import render
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
        },
        {
            "in": "query",
            "name": "lang",
            "required": False,
            "schema": {"type": "string"},
            "description": LANG_DESCRIPTION,
        },
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
def get_instrument_version(instrument_id: str, version: str, **_: Any) -> dict[str, Any] | Response:
    """One published definition, every language in it; with ``lang`` or ``Accept-Language``
    also ``localised``: the definition in one language, with that text's hash. The ETag is
    the content hash (and the language, for a localised answer), which never changes."""
    session = get_session()
    row = catalogue.get_version(session, instrument_id, version)
    language = requested_language()
    found = catalogue.catalogue(session).instrument(instrument_id, version, language)
    body: dict[str, Any] = {
        "instrument_id": row.instrument_id,
        "version": row.version,
        "kind": row.kind,
        "title": row.title,
        "sha256": row.sha256,
        "published_at": row.published_at,
        "definition": row.definition,
        "languages": list(found.languages),
    }
    etag = row.sha256
    if language is not None:
        body.update(
            language=found.language,
            localised=render(row.definition, found.language),
            text_sha256=found.text_sha256,
        )
        etag = f"{row.sha256}.{found.language}"
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": "public, max-age=86400",
        "Vary": "Accept-Language",
    }
    if language is not None:
        headers["Content-Language"] = found.language
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    return body, 200, headers  # type: ignore[return-value]


@blp.route("/consent/form", methods=["GET"])
@public
@blp.arguments(LanguageQuerySchema, location="query", as_kwargs=True)
@blp.response(200, ConsentFormSchema)
def get_consent_form(**_: Any) -> Response:
    """The consent form in force, in one language (``lang``, else ``Accept-Language``, else
    its first): version, hash, the hash of the text shown, and clauses to sign."""
    session = get_session()
    form = catalogue.catalogue(session).consent_form_in(requested_language())
    shown = render(form.definition, form.language)
    body = {
        "id": form.id,
        "version": form.version,
        "sha256": form.sha256,
        "language": form.language,
        "languages": list(form.languages),
        "text_sha256": form.text_sha256,
        "title": shown["title"],
        "information_sheet_version": shown["information_sheet_version"],
        "preamble": shown.get("preamble"),
        "clauses": shown["items"],
        "changes": shown.get("changes", []),
        "reconsent": shown.get("reconsent"),
    }
    headers = {"Content-Language": form.language, "Vary": "Accept-Language"}
    return body, 200, headers  # type: ignore[return-value]

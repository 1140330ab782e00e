"""The read-only FHIR R4 face under /fhir/r4: the same services and access rules as the API.

Questionnaires are public, like the instrument catalogue; the QuestionnaireResponse export
is the analysts' (the analyst export's rules, manifest and access-log events); Consents are
the auditors'. Every answer is ``application/fhir+json`` (NDJSON for the export), every
error an OperationOutcome. The CapabilityStatement is built from ``SERVED``, the same table
the tests hold against the URL map, so it says exactly what is served.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, request
from flask_smorest import Blueprint

from schemas.fhir import ConsentSearchSchema, QuestionnaireSearchSchema, ResponseExportQuerySchema
from service.api.access import current_principal, public, requires_roles
from service.api.exports import EXPORT_HEADERS, export_request, stream_export
from service.db import get_session
from service.domain.fhir import FHIR_JSON, FhirBase, questionnaire
from service.domain.fhir_data import consent
from service.domain.fhir_server import Served, capability_statement, operation_outcome
from service.errors import NOT_FOUND, ApiError, render_errors_under
from service.resources import trail_of
from service.services import fhir

PREFIX = "/fhir/r4"
# When SERVED last changed: the CapabilityStatement's date. Change it with the table.
CAPABILITIES_CHANGED = "2026-11-26"
blp = Blueprint("fhir", __name__, url_prefix=PREFIX, description="FHIR R4 (read-only)")


SERVED = (
    Served(
        "Questionnaire",
        ("read", "vread", "search-type"),
        (
            ("url", "uri", "The canonical URL (a '|version' suffix is honoured)"),
            ("version", "token", "The instrument version, e.g. 1.0.0"),
        ),
        documentation="Every published instrument version and consent form; read gives the "
        "newest version, vread (versionId = the version) any one. Public.",
    ),
    Served(
        "QuestionnaireResponse",
        (),
        operations=(
            (
                "export",
                "GET QuestionnaireResponse/$export?instrument=ID: submitted responses as "
                "NDJSON, each followed by its scores as Observations (derivedFrom the "
                "response), streamed at once (not the asynchronous Bulk Data kick-off). Role "
                "analyst; the analyst export's filters, pseudonyms, manifest and access log.",
            ),
        ),
    ),
    Served(
        "Consent",
        ("read", "search-type"),
        (
            ("_count", "number", "Consents per page (1 to 1000, default 100)"),
            ("after_seq", "number", "The page after this consent-log seq"),
        ),
        documentation="One per consent-log event. Role auditor; every call is logged.",
    ),
)


def fhir_base() -> FhirBase:
    """The FHIR face's address: canonical URLs are built from PSAM_PUBLIC_URL."""
    return FhirBase(current_app.config["PSAM_PUBLIC_URL"] + PREFIX)


def fhir_response(resource: Mapping[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(resource, ensure_ascii=False), status, mimetype=FHIR_JSON)


def _outcome(error: ApiError) -> Response:
    body = operation_outcome(error.problem.status, error.problem.title, error.detail, error.errors)
    response = fhir_response(body, error.problem.status)
    response.headers.update(error.headers)
    return response


def init_fhir(app: Flask) -> None:
    """Errors under /fhir/r4 become OperationOutcomes."""
    render_errors_under(app, PREFIX + "/", _outcome)


def _doc(description: str, example: Mapping[str, Any], media: str = FHIR_JSON) -> dict[str, Any]:
    return {
        "responses": {
            "200": {
                "description": description,
                "content": {media: {"schema": {"type": "object"}, "example": example}},
            }
        }
    }


_EXAMPLE_BASE = FhirBase("https://study.example.org/fhir/r4")
_QUESTIONNAIRE_EXAMPLE = {
    "resourceType": "Questionnaire",
    "id": "gad-7",
    "url": _EXAMPLE_BASE.questionnaire_url("gad-7"),
    "version": "1.0.0",
    "status": "active",
    "item": [{"linkId": "gad7_1", "text": "Feeling nervous, anxious or on edge", "type": "choice"}],
}


def _bundle(entries: list[dict[str, Any]], self_url: str, next_url: str | None) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    base = fhir_base().base
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries) if next_url is None else None,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{e['resourceType']}/{e['id']}",
                "resource": e,
                "search": {"mode": "match"},
            }
            for e in entries
        ],
    }


def _without_nulls(bundle: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in bundle.items() if v is not None and v != []}


@blp.route("/metadata", methods=["GET"])
@public
@blp.doc(**_doc("What this server serves", {"resourceType": "CapabilityStatement"}))
def capabilities() -> Response:
    """The CapabilityStatement: exactly the resources, interactions and searches served."""
    statement = capability_statement(fhir_base(), SERVED, CAPABILITIES_CHANGED)
    return fhir_response(statement)


@blp.route("/Questionnaire/<instrument_id>", methods=["GET"])
@public
@blp.doc(**_doc("The newest published version", _QUESTIONNAIRE_EXAMPLE))
def read_questionnaire(instrument_id: str) -> Response:
    """An instrument (or the consent form) as a Questionnaire: its newest version."""
    found = fhir.newest_version(get_session(), instrument_id)
    return fhir_response(questionnaire(found.instrument, fhir_base(), found.published_at))


@blp.route("/Questionnaire/<instrument_id>/_history/<version>", methods=["GET"])
@public
@blp.doc(**_doc("One published version", _QUESTIONNAIRE_EXAMPLE))
def vread_questionnaire(instrument_id: str, version: str) -> Response:
    """One published version of an instrument (or consent form) as a Questionnaire."""
    found = fhir.one_version(get_session(), instrument_id, version)
    return fhir_response(questionnaire(found.instrument, fhir_base(), found.published_at))


@blp.route("/Questionnaire", methods=["GET"])
@public
@blp.arguments(QuestionnaireSearchSchema, location="query")
@blp.doc(**_doc("A searchset Bundle of Questionnaires", {"resourceType": "Bundle"}))
def search_questionnaires(query: dict[str, Any]) -> Response:
    """Every published version, or those with this canonical url and version."""
    base = fhir_base()
    found = fhir.search_versions(get_session(), base, query.get("url"), query.get("version"))
    entries = [questionnaire(p.instrument, base, p.published_at) for p in found]
    return fhir_response(_without_nulls(_bundle(entries, request.url, None)))


@blp.route("/Consent", methods=["GET"])
@requires_roles("auditor")
@blp.arguments(ConsentSearchSchema, location="query")
@blp.doc(**_doc("A searchset Bundle of Consents, by consent-log seq", {"resourceType": "Bundle"}))
def search_consents(query: dict[str, Any]) -> Response:
    """Consent-log events as Consents, a page at a time in seq order; the call is logged."""
    limit, after = query["count"], query["after_seq"]
    events = fhir.consent_events(
        get_session(), trail_of(current_principal()), after_seq=after, limit=limit
    )
    base = fhir_base()
    next_url = None
    if len(events) == limit:
        params = urlencode({"_count": limit, "after_seq": events[-1].seq})
        next_url = f"{base.base}/Consent?{params}"
    entries = [consent(e, base) for e in events]
    return fhir_response(_without_nulls(_bundle(entries, request.url, next_url)))


@blp.route("/Consent/<resource_id>", methods=["GET"])
@requires_roles("auditor")
@blp.doc(**_doc("One consent-log event as a Consent", {"resourceType": "Consent"}))
def read_consent(resource_id: str) -> Response:
    """One consent-log event (id consent-log-SEQ) as a Consent; the call is logged."""
    prefix, _, seq = resource_id.rpartition("-")
    if prefix != "consent-log" or not seq.isdigit() or len(seq) > 18:
        raise ApiError(NOT_FOUND, f"There is no Consent {resource_id}.")
    event = fhir.consent_event(get_session(), trail_of(current_principal()), int(seq))
    return fhir_response(consent(event, fhir_base()))


_NDJSON_EXAMPLE = (
    '{"resourceType":"QuestionnaireResponse","id":"3f0c...","status":"completed"}\n'
    '{"resourceType":"Observation","id":"9b1e...","status":"final"}\n'
)


@blp.route("/QuestionnaireResponse/$export", methods=["GET"])
@requires_roles("analyst")
@blp.arguments(ResponseExportQuerySchema, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "QuestionnaireResponses, each followed by its score Observations, "
            "one resource a line; X-Export-Id names the manifest",
            "headers": EXPORT_HEADERS,
            "content": {
                "application/fhir+ndjson": {
                    "schema": {"type": "string"},
                    "example": _NDJSON_EXAMPLE,
                }
            },
        }
    }
)
def export_responses(query: dict[str, Any]) -> Response:
    """Submitted responses as FHIR NDJSON, under the analyst export's rules and manifest."""
    return stream_export(export_request(query, "fhir"), "ndjson", fhir=fhir_base())

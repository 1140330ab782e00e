"""The published contract: what the OpenAPI document adds to what the views declare.

Views declare their bodies, success status and who may call them. This module adds, in
one place and for every operation alike, what a client generator and a front-end team
need: a readable ``operationId``, every problem status the request hooks can answer with
(401 and 403 from access, 400/413/415 from the body reader, 422 from the query check, 404
for an address with a variable part), and an example for each JSON body.
"""

from __future__ import annotations

import http
from collections.abc import Mapping
from typing import Any

from apispec import BasePlugin
from werkzeug.routing import Rule

from service.api.examples import EXAMPLES, PARAMETER_EXAMPLES

# endpoint -> operationId. A generated client names its functions after these, so they are
# part of the contract: renaming one breaks every client built from the document. (Pairs,
# not a dict literal: bandit takes a literal's "...token" keys for hard-coded passwords.)
OPERATION_IDS: Mapping[str, str] = dict(
    [
        ("health.healthz", "getLiveness"),
        ("health.readyz", "getReadiness"),
        ("catalogue.list_instruments", "listInstruments"),
        ("catalogue.get_instrument_version", "getInstrumentVersion"),
        ("catalogue.get_consent_form", "getConsentForm"),
        ("participants.enrol", "enrolParticipant"),
        ("participants.self_enrol", "selfEnrol"),
        ("participants.list_participants", "listParticipants"),
        ("participants.get_participant", "getParticipant"),
        ("participants.get_contact", "getParticipantContact"),
        ("participants.list_messages", "listParticipantMessages"),
        ("participants.reissue_token", "reissueParticipantToken"),
        ("participants.withdraw_for", "withdrawParticipant"),
        ("interviews.invite", "inviteToInterview"),
        ("interviews.list_eligible", "listInterviewEligible"),
        ("interviews.list_interviews", "listInterviews"),
        ("interviews.schedule", "scheduleInterview"),
        ("interviews.mark_done", "markInterviewDone"),
        ("interviews.cancel", "cancelInterview"),
        ("interviews.create_slot", "createInterviewSlot"),
        ("interviews.list_slots", "listInterviewSlots"),
        ("interviews.cancel_slot", "cancelInterviewSlot"),
        ("interviews.my_interviews", "listMyInterviews"),
        ("interviews.accept", "acceptInterview"),
        ("interviews.decline", "declineInterview"),
        ("me.me", "getMe"),
        ("me.my_receipts", "listMyConsentReceipts"),
        ("me.sign", "signConsent"),
        ("me.withdraw_me", "withdrawMe"),
        ("me.start_response", "startResponse"),
        ("me.save_answers", "saveAnswers"),
        ("me.submit", "submitResponse"),
        ("me.get_response", "getResponse"),
        ("alerts.list_alerts", "listAlerts"),
        ("alerts.acknowledge", "acknowledgeAlert"),
        ("exports.export_responses", "exportResponses"),
        ("exports.get_codebook", "getCodebook"),
        ("exports.list_exports", "listExports"),
        ("exports.get_export", "getExport"),
        ("quotes.export_quotes", "exportQuotes"),
        ("recordings.put_audio", "uploadInterviewAudio"),
        ("recordings.get_audio", "downloadInterviewAudio"),
        ("recordings.put_transcript", "uploadInterviewTranscript"),
        ("recordings.get_transcript", "downloadInterviewTranscript"),
        ("recordings.verify_transcript", "verifyInterviewTranscript"),
        ("audit.consent_log", "listConsentLog"),
        ("audit.verify_consent_log", "verifyConsentLog"),
        ("audit.access_log", "listAccessLog"),
        ("audit.verify_access_log", "verifyAccessLog"),
        ("audit.list_checkpoints", "listCheckpoints"),
        ("audit.cosign_checkpoint", "cosignCheckpoint"),
        ("audit.register_witness", "registerWitness"),
        ("audit.list_witnesses", "listWitnesses"),
        ("audit.approve_witness", "approveWitness"),
        ("audit.public_key", "getPublicKey"),
        ("tokens.list_tokens", "listStaffTokens"),
        ("tokens.create_token", "createStaffToken"),
        ("tokens.revoke_token", "revokeStaffToken"),
        ("problems.list_problems", "listProblemTypes"),
        ("problems.get_problem", "getProblemType"),
        ("fhir.capabilities", "getFhirCapabilityStatement"),
        ("fhir.read_questionnaire", "readFhirQuestionnaire"),
        ("fhir.vread_questionnaire", "vreadFhirQuestionnaire"),
        ("fhir.search_questionnaires", "searchFhirQuestionnaires"),
        ("fhir.search_consents", "searchFhirConsents"),
        ("fhir.read_consent", "readFhirConsent"),
        ("fhir.export_responses", "exportFhirQuestionnaireResponses"),
    ]
)

# Statuses a service function answers with that no request hook predicts: a state the
# resource is in (409) or a rate limit (429).
CONFLICTS = frozenset(
    {
        "me.start_response",
        "me.save_answers",
        "me.withdraw_me",
        "participants.withdraw_for",
        "participants.reissue_token",
        "alerts.acknowledge",
        "me.submit",
        "audit.register_witness",
        "audit.approve_witness",
        "audit.cosign_checkpoint",
        "interviews.invite",
        "interviews.schedule",
        "interviews.mark_done",
        "interviews.cancel",
        "interviews.cancel_slot",
        "interviews.accept",
        "interviews.decline",
        # a cancelled or declined interview, a recording destroyed on schedule; a stored file
        # that fails its integrity check
        "recordings.put_audio",
        "recordings.put_transcript",
        "recordings.get_audio",
        "recordings.get_transcript",
    }
)
# The FHIR face answers errors as OperationOutcome (application/fhir+json), documented as
# responses of their own, named FHIR_<status>.
FHIR_ENDPOINTS = "fhir."
FHIR_ERROR_PREFIX = "FHIR_"
RATE_LIMITED = frozenset({"participants.self_enrol", "me.sign"})
_BODY_METHODS = frozenset({"post", "put", "patch"})
_IDEMPOTENCY_HEADER = "Idempotency-Key"


class ContractPlugin(BasePlugin):
    """Completes every operation as the path is added to the document."""

    def path_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        parameters: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        _add_parameter_examples(parameters or [])  # the route's variables, shared by its methods

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        rule = kwargs.get("rule")
        if not isinstance(rule, Rule) or operations is None:
            return
        endpoint = rule.endpoint
        operation_id = OPERATION_IDS.get(endpoint)
        if operation_id is None:
            raise RuntimeError(f"{endpoint} has no operationId in service.api.document")
        for method, operation in operations.items():
            operation["operationId"] = operation_id
            responses = operation.setdefault("responses", {})
            for code in list(responses):  # one spelling of each status code
                responses[str(code)] = responses.pop(code)
            for status in problem_statuses(endpoint, method, operation, rule):
                responses.setdefault(str(status), http.HTTPStatus(status).name)
            if endpoint.startswith(FHIR_ENDPOINTS):
                _as_operation_outcomes(responses)
            _add_examples(operation)
            _add_parameter_examples(operation.get("parameters", []))
            if _IDEMPOTENCY_HEADER in _header_names(operation):
                _document_replay(responses)


def _as_operation_outcomes(responses: dict[str, Any]) -> None:
    """Point every error response at its OperationOutcome twin (FHIR_<name>)."""
    for code, response in responses.items():
        if code == "default" or code.startswith(("4", "5")):
            name = response if isinstance(response, str) else response.get("$ref", "")
            name = str(name).rpartition("/")[2]
            responses[code] = FHIR_ERROR_PREFIX + (name or http.HTTPStatus(int(code)).name)


def problem_statuses(
    endpoint: str, method: str, operation: Mapping[str, Any], rule: Rule
) -> list[int]:
    """The error statuses an operation can answer with, from what the hooks and the view do."""
    statuses = [422]  # an undeclared query parameter, whatever the route
    if operation.get("security"):
        statuses += [401, 403]
    if rule.arguments:
        statuses.append(404)
    if method in _BODY_METHODS:
        statuses += [400, 413, 415]
    if endpoint in CONFLICTS or _IDEMPOTENCY_HEADER in _header_names(operation):
        statuses.append(409)
    if endpoint in RATE_LIMITED:
        statuses.append(429)
    return sorted(statuses)


def _header_names(operation: Mapping[str, Any]) -> set[str]:
    return {p.get("name", "") for p in operation.get("parameters", []) if p.get("in") == "header"}


def _add_examples(operation: dict[str, Any]) -> None:
    """An example for each JSON body whose schema has one in ``service.api.examples``."""
    bodies = [operation.get("requestBody", {})]
    bodies += [r for c, r in operation["responses"].items() if c.startswith("2")]
    for body in bodies:
        if not isinstance(body, dict):
            continue
        for media in body.get("content", {}).values():
            name = media.get("schema", {}).get("$ref", "").rpartition("/")[2]
            if name in EXAMPLES and "example" not in media:
                media["example"] = EXAMPLES[name]


def _add_parameter_examples(parameters: list[dict[str, Any]]) -> None:
    for parameter in parameters:
        name = parameter.get("name", "")
        if name in PARAMETER_EXAMPLES and "example" not in parameter:
            schema = parameter.get("schema", {})
            example = PARAMETER_EXAMPLES[name]
            parameter["example"] = [example] if schema.get("type") == "array" else example


def _document_replay(responses: dict[str, Any]) -> None:
    for code, response in responses.items():
        if code.startswith("2") and isinstance(response, dict):
            response.setdefault("headers", {})["Idempotent-Replayed"] = {
                "schema": {"type": "string", "enum": ["true"]},
                "description": "Present when this is the stored answer to an earlier request "
                "with the same Idempotency-Key",
            }


SECURITY_SCHEMES: Mapping[str, dict[str, Any]] = {
    "staffToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A staff token, `psam_s_...`, from `flask tokens create` or "
        "POST /api/v1/tokens. Its roles decide which operations it may call.",
    },
    "participantToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A participant token, `psam_p_...`, from enrolment (shown once) or "
        "reissued by a researcher. It reaches only the participant's own data (/me).",
    },
}

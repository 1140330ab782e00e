"""The catalogue of API errors and the handlers that turn any error into problem+json.

Every error leaves the service as an RFC 9457 ``application/problem+json`` body with a
stable ``type``, a ``title``, the ``status``, a ``detail`` for this occurrence and, for
validation failures, ``errors`` keyed by field. A 500 says nothing about what failed inside.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, json, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from schemas.paths import flatten_messages
from service.domain.errors import (
    ClauseNotInForceError,
    ConflictError,
    ConsentRequiredError,
    ContactNotPermittedError,
    DomainError,
    IntegrityCheckError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    ReconsentRequiredError,
    TooLargeError,
    WithdrawnError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/api/v1/problems/"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProblemType:
    """One kind of error: a stable code, its HTTP status and a title."""

    code: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.code


BAD_REQUEST = ProblemType(
    "bad-request", 400, "Bad request", "The request could not be read, e.g. malformed JSON."
)
AUTHENTICATION_REQUIRED = ProblemType(
    "authentication-required",
    401,
    "Authentication required",
    "Send a valid, unexpired API token as 'Authorization: Bearer <token>'.",
)
FORBIDDEN = ProblemType(
    "forbidden", 403, "Not allowed", "The token is valid but its roles do not admit this call."
)
WITHDRAWN = ProblemType(
    "withdrawn",
    403,
    "Participant has withdrawn",
    "The participant has withdrawn from the study: nothing new is accepted from or for them.",
)
CONSENT_REQUIRED = ProblemType(
    "consent-required",
    403,
    "Consent required",
    "No answers are accepted before the participant has signed the consent form.",
)
RECONSENT_REQUIRED = ProblemType(
    "reconsent-required",
    403,
    "New consent required",
    "A new version of the consent form is in force: the participant must sign it first.",
)
CONTACT_NOT_PERMITTED = ProblemType(
    "contact-not-permitted",
    403,
    "Interview contact not agreed (consent clause c_contact_interview)",
    "The participant's consent in force does not include being contacted about an interview.",
)
CONSENT_CLAUSE_REQUIRED = ProblemType(
    "consent-clause-required",
    403,
    "Consent clause not in force",
    "The participant's consent in force does not include the clause this step needs "
    "(e.g. audio recording, anonymised quotes); 'errors' names the clause.",
)
NOT_FOUND = ProblemType("not-found", 404, "Not found", "Nothing exists at this address.")
METHOD_NOT_ALLOWED = ProblemType(
    "method-not-allowed", 405, "Method not allowed", "The address exists; the method does not."
)
MALFORMED_JSON = ProblemType(
    "malformed-json",
    400,
    "Malformed JSON",
    "The body is not I-JSON (RFC 7493): not UTF-8, not JSON, or holding NaN or Infinity, a "
    "number no double holds exactly (integers beyond 2**53 - 1, or 1e309), a lone surrogate, "
    "a NUL character, a repeated key, or nesting deeper than 32 levels. 'errors' names the "
    "place, e.g. 'answers.phq9_1'.",
)
UNSUPPORTED_LANGUAGE = ProblemType(
    "unsupported-language",
    400,
    "Unsupported language",
    "'lang' asks for a language none of the study's published versions is in; 'errors' "
    "names 'lang' and lists the languages there are.",
)
PAYLOAD_TOO_LARGE = ProblemType(
    "payload-too-large", 413, "Request body too large", "The body is over the configured limit."
)
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "Request bodies must be JSON, sent with 'Content-Type: application/json'.",
)
VALIDATION_FAILED = ProblemType(
    "validation-failed",
    422,
    "Validation failed",
    "The body or parameters were read but are not acceptable; 'errors' lists each field.",
)
UNKNOWN_PARAMETER = ProblemType(
    "unknown-parameter",
    422,
    "Unknown parameter",
    "The query string holds a parameter this address does not take (a misspelt filter would "
    "otherwise be ignored and return the wrong rows); 'errors' names each one.",
)
CONFLICT = ProblemType(
    "conflict", 409, "Conflict", "The request clashes with what is already stored."
)
INTEGRITY_CHECK_FAILED = ProblemType(
    "integrity-check-failed",
    409,
    "Integrity check failed",
    "A stored recording or transcript does not authenticate (a chunk altered, missing, "
    "reordered or from another file); nothing of it was sent.",
)
TOO_MANY_REQUESTS = ProblemType(
    "too-many-requests",
    429,
    "Too many requests",
    "This client has sent too many of these requests: wait for the time in Retry-After.",
)
CLIENT_CLOSED_REQUEST = ProblemType(
    "client-closed-request",
    499,
    "Client closed request",
    "The client hung up before the request was served; nothing was done.",
)
NOT_READY = ProblemType(
    "not-ready", 503, "Service not ready", "A dependency the service needs is not usable yet."
)
TRY_AGAIN = ProblemType(
    "try-again",
    503,
    "Try again",
    "The request met another changing the same records at the same moment, and was undone: "
    "nothing of it was stored. Send it again after the seconds in Retry-After.",
)
INTERNAL_ERROR = ProblemType(
    "internal-error",
    500,
    "Internal error",
    "Something failed inside the service. Quote the 'instance' value when reporting it.",
)

CATALOGUE: dict[str, ProblemType] = {
    p.code: p
    for p in (
        BAD_REQUEST,
        MALFORMED_JSON,
        AUTHENTICATION_REQUIRED,
        FORBIDDEN,
        WITHDRAWN,
        CONSENT_REQUIRED,
        RECONSENT_REQUIRED,
        CONTACT_NOT_PERMITTED,
        CONSENT_CLAUSE_REQUIRED,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        CONFLICT,
        INTEGRITY_CHECK_FAILED,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        VALIDATION_FAILED,
        UNKNOWN_PARAMETER,
        UNSUPPORTED_LANGUAGE,
        TOO_MANY_REQUESTS,
        CLIENT_CLOSED_REQUEST,
        NOT_READY,
        TRY_AGAIN,
        INTERNAL_ERROR,
    )
}
# The first (most general) type of each status stands for werkzeug's exceptions.
_BY_STATUS: dict[int, ProblemType] = {}
for _problem in CATALOGUE.values():
    _BY_STATUS.setdefault(_problem.status, _problem)


class ApiError(Exception):
    """An error that the API reports to its caller as a problem+json body."""

    def __init__(
        self,
        problem: ProblemType,
        detail: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.problem = problem
        self.detail = detail
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def validation_error(errors: Mapping[str, list[str]], detail: str | None = None) -> ApiError:
    """A 422 naming every faulty field."""
    names = ", ".join(sorted(errors))
    return ApiError(VALIDATION_FAILED, detail or f"Not acceptable: {names}.", errors=errors)


# app.extensions key: (path prefix, renderer) for parts of the service whose clients expect
# another error format (the FHIR face answers with OperationOutcome resources).
ERROR_RENDERERS = "psam_error_renderers"
ErrorRenderer = Callable[[ApiError], Response]


def render_errors_under(app: Flask, prefix: str, render: ErrorRenderer) -> None:
    """Errors of requests under ``prefix`` are rendered by ``render``, not as problem+json."""
    app.extensions.setdefault(ERROR_RENDERERS, []).append((prefix, render))


def problem_response(error: ApiError) -> Response:
    """Render an ApiError as an RFC 9457 response (or as its path's own error format)."""
    if has_request_context():
        for prefix, render in current_app.extensions.get(ERROR_RENDERERS, ()):
            if request.path.startswith(prefix):
                rendered: Response = render(error)
                return rendered
    body: dict[str, Any] = {
        "type": error.problem.uri,
        "title": error.problem.title,
        "status": error.problem.status,
        "detail": error.detail,
    }
    request_id = g.get("request_id")
    if request_id:
        body["instance"] = f"urn:uuid:{request_id}"
    if error.errors is not None:
        body["errors"] = error.errors
    body.update(error.extra)
    response = Response(json.dumps(body), status=error.problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(error.headers)
    return response


def _from_http_exception(exc: HTTPException) -> ApiError:
    """Map werkzeug's and webargs' exceptions onto the catalogue."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if status in (400, 422) and "messages" in data:
        errors = _strip_locations(data["messages"])
        if status == 400:  # webargs: the body is not valid JSON
            return ApiError(BAD_REQUEST, "The request body is not valid JSON.")
        return validation_error(errors)
    problem = _BY_STATUS.get(status)
    headers = {}
    if problem is None:
        problem = ProblemType(f"http-{status}", status, exc.name, exc.name)
    if status == 405:
        allow = [h for h in exc.get_headers() if h[0].lower() == "allow"]
        headers = dict(allow)
    detail = {
        404: "Nothing exists at this address.",
        405: "This address does not accept that method.",
        413: "The request body is larger than this service accepts.",
    }.get(status, exc.description or problem.title)
    return ApiError(problem, detail, headers=headers)


_DOMAIN_PROBLEMS: dict[type[DomainError], ProblemType] = {
    NotFoundError: NOT_FOUND,
    ConflictError: CONFLICT,
    InvalidInputError: VALIDATION_FAILED,
    WithdrawnError: WITHDRAWN,
    ConsentRequiredError: CONSENT_REQUIRED,
    ReconsentRequiredError: RECONSENT_REQUIRED,
    ContactNotPermittedError: CONTACT_NOT_PERMITTED,
    ClauseNotInForceError: CONSENT_CLAUSE_REQUIRED,
    IntegrityCheckError: INTEGRITY_CHECK_FAILED,
    TooLargeError: PAYLOAD_TOO_LARGE,
    RateLimitedError: TOO_MANY_REQUESTS,
}


def _from_domain_error(exc: DomainError) -> ApiError:
    """The one place where domain errors become HTTP problems."""
    problem = next(
        (p for kind, p in _DOMAIN_PROBLEMS.items() if isinstance(exc, kind)), VALIDATION_FAILED
    )
    errors = exc.errors if isinstance(exc, InvalidInputError | ClauseNotInForceError) else None
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else None
    return ApiError(problem, str(exc), errors=errors, headers=headers)


def _strip_locations(messages: Mapping[str, Any]) -> dict[str, list[str]]:
    """webargs nests errors under their location ("json", "query"); callers want field names."""
    flat: dict[str, list[str]] = {}
    for location, sub in messages.items():
        for path, msgs in flatten_messages(sub).items():
            key = path or location
            flat.setdefault(key, []).extend(msgs)
    return flat


STALE_ROW = (
    "What this request changes was changed by another request at the same moment; nothing "
    "of this one was stored. Read it again, then decide whether to send it again."
)
# deadlock_detected, serialization_failure: the transaction was rolled back whole.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def register_error_handlers(app: Flask) -> None:
    """Route every exception through the catalogue."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return problem_response(exc)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        return problem_response(_from_domain_error(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if exc.code is not None and exc.code >= 500:
            log.error("http error %s", exc.code)
        return problem_response(_from_http_exception(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The traceback goes to the server log under the request id; the caller gets nothing
        # that could reveal internals, data or secrets.
        if isinstance(exc, StaleDataError):
            # The ORM updated or deleted a row another request had just removed: this one's
            # transaction is undone whole.
            log.warning("request met a row changed by another at the same moment")
            return problem_response(ApiError(CONFLICT, STALE_ROW))
        if isinstance(exc, DBAPIError):
            # The driver's message quotes values (PostgreSQL's DETAIL: "Key (study_id)=(...)"),
            # which hide_parameters does not reach: log the kind and where, never the text.
            cause = exc.orig if exc.orig is not None else exc
            sqlstate = getattr(cause, "sqlstate", None)
            if sqlstate in RETRYABLE_SQLSTATES:
                # PostgreSQL undid this transaction to let another finish (a deadlock, a
                # serialisation failure): nothing was stored, and the same request succeeds
                # when sent again.
                log.warning("request undone by the database (SQLSTATE %s)", sqlstate)
                return problem_response(
                    ApiError(TRY_AGAIN, TRY_AGAIN.description, headers={"Retry-After": "1"})
                )
            log.error(
                "unhandled database error %s (SQLSTATE %s)\n%s",
                type(cause).__name__,
                sqlstate or "-",
                "".join(traceback.format_tb(exc.__traceback__)),
            )
        else:
            log.exception("unhandled %s", type(exc).__name__)
        return problem_response(ApiError(INTERNAL_ERROR, "The request failed inside the service."))

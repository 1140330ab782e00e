"""The HTTP API: flask-smorest blueprints, the OpenAPI document and its docs page."""

from __future__ import annotations

import http
from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from schemas.api import ProblemSchema
from schemas.fields import UtcDateTime
from schemas.responses import ResponseSchema
from service.api import (
    alerts,
    audit,
    catalogue,
    docs_page,
    exports,
    fhir,
    health,
    interviews,
    me,
    participants,
    problems,
    quotes,
    recordings,
    tokens,
)
from service.api.document import FHIR_ERROR_PREFIX, SECURITY_SCHEMES, ContractPlugin
from service.api.examples import problem_example
from service.domain.fhir import FHIR_JSON
from service.domain.fhir_server import operation_outcome
from service.errors import CATALOGUE, PROBLEM_MEDIA_TYPE

_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer realm"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
}


OPERATION_OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR R4 OperationOutcome: one issue, or one per field at fault",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string", "enum": ["error"]},
                    "code": {"type": "string"},
                    "details": {"type": "object", "properties": {"text": {"type": "string"}}},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


class PsamApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, documenting errors as problem+json and leaving handlers to us."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        """``service.errors`` handles every error; flask-smorest's JSON shape is not ours."""

    def _register_responses(self) -> None:
        # The first catalogue entry of a status stands for it in the examples.
        by_status = {p.status: p for p in reversed(CATALOGUE.values())}
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                problem = by_status.get(status)
                if problem is not None:
                    response["description"] = f"{status.phrase} (see /api/v1/problems)"
                    response["example"] = problem_example(
                        status, problem.code, problem.title, problem.description
                    )
                if status in _ERROR_HEADERS:
                    response["headers"] = _ERROR_HEADERS[status]
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error (RFC 9457 problem)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)
        self._register_fhir_responses(by_status)

    def _register_fhir_responses(self, by_status: dict[int, Any]) -> None:
        """The FHIR face's errors: an OperationOutcome, application/fhir+json."""
        self.spec.components.schema("OperationOutcome", OPERATION_OUTCOME_SCHEMA)
        ref = {"$ref": "#/components/schemas/OperationOutcome"}
        for status in [*http.HTTPStatus, None]:
            if status is not None and status < 400:
                continue
            code = 500 if status is None else int(status)
            problem = by_status.get(code)
            title = problem.title if problem else (status.phrase if status else "Error")
            example = operation_outcome(code, title, title + ".", None)
            headers = _ERROR_HEADERS.get(code)
            response: dict[str, Any] = {
                "description": f"{title} (an OperationOutcome)",
                "content": {FHIR_JSON: {"schema": ref, "example": example}},
            }
            if headers:
                response["headers"] = headers
            name = "DEFAULT_ERROR" if status is None else status.name
            self.spec.components.response(FHIR_ERROR_PREFIX + name, response, lazy=True)


def init_api(app: Flask) -> PsamApi:
    """Attach the API and its OpenAPI document to the app."""
    api = PsamApi()
    api.register_field(UtcDateTime, "string", "date-time")
    api.init_app(app, spec_kwargs={"extra_plugins": [ContractPlugin()]})
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    # "Response" would be the name of a response body's schema; generated clients have a
    # class of that name for every HTTP answer (openapi-python-client's output did not run).
    api.spec.components.schema("QuestionnaireResponse", schema=ResponseSchema)
    app.register_blueprint(docs_page.blp)
    fhir.init_fhir(app)
    for module in (
        health,
        catalogue,
        participants,
        interviews,
        me,
        alerts,
        exports,
        quotes,
        recordings,
        audit,
        tokens,
        problems,
        fhir,
    ):
        api.register_blueprint(module.blp)
    return api

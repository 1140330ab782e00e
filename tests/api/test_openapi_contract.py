"""The published contract holds: a valid document, readable operation ids, examples that
satisfy their schemas, every error status documented with the problem schema."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import OpenAPIV30SpecValidator

from service.config import PROJECT_ROOT
from service.domain.pseudonyms import StudyIdError, parse_study_id

METHODS = ("get", "put", "post", "patch", "delete")
STUDY_ID_TEXT = re.compile(r"PSAM-[0-9A-Z]{8}-[0-9A-Z]")


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


def test_the_served_document_is_a_valid_openapi_document(spec: dict[str, Any]) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in OpenAPIV30SpecValidator(spec).iter_errors()]
    assert errors == []


def test_every_operation_has_a_readable_unique_operation_id_and_a_summary(
    spec: dict[str, Any],
) -> None:
    ids = [op.get("operationId", "") for _, _, op in operations(spec)]
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    assert not [i for i in ids if "api" in i.lower()]  # not generated from the path
    assert all(op.get("summary") for _, _, op in operations(spec))


def test_every_json_body_of_every_operation_has_an_example(spec: dict[str, Any]) -> None:
    missing = []
    for path, method, op in operations(spec):
        bodies = {"request": op.get("requestBody", {})}
        bodies |= {code: r for code, r in op["responses"].items() if code.startswith("2")}
        for name, body in bodies.items():
            for media_type, media in body.get("content", {}).items():
                if "example" not in media and "examples" not in media:
                    missing.append(f"{method.upper()} {path} {name} {media_type}")
    assert missing == []


def test_every_example_satisfies_its_own_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for path, method, op in operations(spec):
        bodies = [op.get("requestBody", {})]
        bodies += [r for code, r in op["responses"].items() if "content" in r]
        for body in bodies:
            for media in body.get("content", {}).values():
                if "example" in media:
                    # The schema as a document of its own, so its $refs resolve to components.
                    root = {**media["schema"], "components": spec["components"]}
                    errors = list(OAS30Validator(root).iter_errors(media["example"]))
                    assert errors == [], f"{method.upper()} {path}: {errors[0].message}"
                    checked += 1
    for name, response in spec["components"]["responses"].items():
        for media in response.get("content", {}).values():
            if "example" in media:
                root = {**media["schema"], "components": spec["components"]}
                assert list(OAS30Validator(root).iter_errors(media["example"])) == [], name
                checked += 1
    assert checked > 60


def test_every_problem_status_is_documented_with_the_problem_schema(
    spec: dict[str, Any],
) -> None:
    def schema_of(response: dict[str, Any], fhir: bool) -> Any:
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].rpartition("/")[2]]
        if fhir:  # the FHIR face answers errors as OperationOutcome resources
            return response["content"]["application/fhir+json"]["schema"]
        return response["content"]["application/problem+json"]["schema"]

    for path, method, op in operations(spec):
        responses = op["responses"]
        expected = {"422"}
        if op.get("security"):
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if method in ("post", "patch"):
            expected |= {"400", "413", "415"}
        assert expected <= set(responses), f"{method.upper()} {path}"
        for code, response in responses.items():
            if code.startswith(("4", "5")) or code == "default":
                expected_schema = "OperationOutcome" if path.startswith("/fhir/") else "Problem"
                assert schema_of(response, path.startswith("/fhir/")) == {
                    "$ref": f"#/components/schemas/{expected_schema}"
                }


def test_rate_limited_and_retryable_operations_document_429_and_409(spec: dict[str, Any]) -> None:
    assert "429" in spec["paths"]["/api/v1/enrolments"]["post"]["responses"]
    assert "429" in spec["paths"]["/api/v1/me/consent"]["post"]["responses"]
    retried = spec["paths"]["/api/v1/me/responses"]["post"]
    assert "409" in retried["responses"]
    assert "Idempotent-Replayed" in retried["responses"]["201"]["headers"]


def test_fixed_value_sets_are_enums(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert set(schemas["Signposting"]["properties"]["severity"]["enum"]) == {"urgent", "routine"}
    assert set(schemas["Alert"]["properties"]["status"]["enum"]) == {"open", "acknowledged"}
    assert set(schemas["Withdrawal"]["properties"]["scope"]["enum"]) == {
        "no-further-contact",
        "stop",
        "stop-and-erase",
    }
    assert "stop" in schemas["Receipt"]["properties"]["scope"]["enum"]
    assert "open" in schemas["Task"]["properties"]["status"]["enum"]
    assert set(schemas["Verification"]["properties"]["log"]["enum"]) == {"consent", "access"}


def test_every_study_id_in_the_document_passes_its_check_character(client: FlaskClient) -> None:
    text = client.get("/api/v1/openapi.json").get_data(as_text=True)
    found = set(STUDY_ID_TEXT.findall(text))
    assert found
    bad = []
    for study_id in found:
        try:
            parse_study_id(study_id)
        except StudyIdError:
            bad.append(study_id)
    assert bad == []


def test_every_study_id_in_the_readme_and_the_docs_passes_its_check_character() -> None:
    texts = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    found = {m for path in texts for m in STUDY_ID_TEXT.findall(path.read_text())}
    assert found
    bad = []
    for study_id in found:
        try:
            parse_study_id(study_id)
        except StudyIdError:
            bad.append(study_id)
    assert bad == []


def test_every_parameter_has_an_example_that_satisfies_its_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            parameters = op if method == "parameters" else op.get("parameters", [])
            for parameter in parameters:
                schema = parameter["schema"]
                if "example" not in parameter:
                    # A fixed set or a default already shows a client what to send.
                    assert "enum" in schema or "default" in schema, (path, parameter["name"])
                    continue
                errors = list(OAS30Validator(schema).iter_errors(parameter["example"]))
                assert errors == [], (path, parameter["name"], errors[0].message)
                checked += 1
    assert checked > 30

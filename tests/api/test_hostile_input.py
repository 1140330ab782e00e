"""Hostile input is refused with a problem naming the place, never a 500: bodies through
the one strict JSON reader, bodies over the limit however they are sent, and query
parameters that a route does not declare, on every route of the URL map."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.domain.strict_json import MAX_DEPTH
from service.models import Response
from tests.api.test_errors import assert_problem
from tests.conftest import shipped_version, valid_signature

Headers = dict[str, str]
PHQ9 = "/api/v1/me/responses"


@pytest.fixture
def me(client: FlaskClient, auth: Callable[..., Headers]) -> Headers:
    """A consented participant's headers, with an Idempotency-Key as a retrying app sends."""
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    headers = {"Authorization": f"Bearer {made['token']}"}
    signed = client.post("/api/v1/me/consent", json=valid_signature(client), headers=headers)
    assert signed.status_code == 201
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def answers_body(phq9_1: str) -> str:
    """A one-shot PHQ-9 body, written by hand so that any text can stand as an answer."""
    rest = ", ".join(f'"phq9_{i}": 0' for i in range(2, 10))
    return (
        f'{{"instrument": "phq-9", "version": "{shipped_version("phq-9")}", '
        '"timepoint": "baseline", "submit": true, '
        f'"answers": {{"phq9_1": {phq9_1}, {rest}}}}}'
    )


@pytest.mark.parametrize(
    "number", ["NaN", "Infinity", "-Infinity", "1e309", "-1e400", str(2**70), str(2**53)]
)
def test_a_number_canonical_json_cannot_hold_is_a_400_naming_the_answer(
    client: FlaskClient, me: Headers, session: Session, number: str
) -> None:
    response = client.post(
        PHQ9, data=answers_body(number), content_type="application/json", headers=me
    )
    body = assert_problem(response, 400, "malformed-json")
    assert list(body["errors"]) == ["answers.phq9_1"]
    assert session.scalar(select(func.count()).select_from(Response)) == 0


def test_the_largest_exact_integer_is_read_and_judged_by_the_instrument(
    client: FlaskClient, me: Headers
) -> None:
    response = client.post(
        PHQ9, data=answers_body(str(2**53 - 1)), content_type="application/json", headers=me
    )
    body = assert_problem(response, 422, "validation-failed")
    assert "answers.phq9_1" in body["errors"]


def test_a_well_formed_body_with_an_idempotency_key_is_answered_and_replayed(
    client: FlaskClient, me: Headers
) -> None:
    first = client.post(PHQ9, data=answers_body("1"), content_type="application/json", headers=me)
    again = client.post(PHQ9, data=answers_body("1"), content_type="application/json", headers=me)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1200, 100_000])
def test_deep_nesting_from_any_token_holder_is_a_400(
    client: FlaskClient, me: Headers, depth: int
) -> None:
    response = client.post(
        PHQ9, data="[" * depth + "]" * depth, content_type="application/json", headers=me
    )
    body = assert_problem(response, 400, "malformed-json")
    assert "nested deeper than 32 levels" in body["detail"]


def test_nesting_at_the_bound_is_read_and_then_judged_by_the_schema(
    client: FlaskClient, me: Headers
) -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    text = answers_body("1").replace('"submit": true', f'"submit": true, "extra": {nested}')
    response = client.post(PHQ9, data=text, content_type="application/json", headers=me)
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"] == {"extra": ["Unknown field."]}


@pytest.mark.parametrize(
    ("path", "roles", "field", "make_body"),
    [
        ("/api/v1/tokens", ("admin",), "label", lambda s: {"label": s, "roles": ["analyst"]}),
        ("/api/v1/participants", ("researcher",), "site", lambda s: {"site": s}),
    ],
)
@pytest.mark.parametrize(
    ("escaped", "reason"),
    [("\\ud800", "lone surrogate"), ("\\udfff tail", "lone surrogate"), ("a\\u0000b", "NUL")],
)
def test_a_lone_surrogate_or_nul_in_a_string_is_a_400_naming_the_field(
    client: FlaskClient,
    auth: Callable[..., Headers],
    path: str,
    roles: tuple[str, ...],
    field: str,
    make_body: Callable[[str], dict[str, object]],
    escaped: str,
    reason: str,
) -> None:
    marker = "MARKER-0123456789"
    text = json.dumps(make_body(marker)).replace(marker, escaped)
    response = client.post(path, data=text, content_type="application/json", headers=auth(*roles))
    body = assert_problem(response, 400, "malformed-json")
    assert list(body["errors"]) == [field]
    assert reason in body["errors"][field][0]


def test_a_lone_surrogate_in_the_typed_signature_is_a_400_and_no_consent_is_recorded(
    client: FlaskClient, auth: Callable[..., Headers]
) -> None:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    headers = {"Authorization": f"Bearer {made['token']}"}
    marker = "MARKER-0123456789"
    text = json.dumps(valid_signature(client, typed_name=marker)).replace(marker, "Sam \\ud83d")
    response = client.post(
        "/api/v1/me/consent", data=text, content_type="application/json", headers=headers
    )
    body = assert_problem(response, 400, "malformed-json")
    assert list(body["errors"]) == ["typed_name"]
    assert client.get("/api/v1/me/consent", headers=headers).get_json()["receipts"] == []


def test_a_repeated_key_is_a_400_naming_the_object_and_the_key(
    client: FlaskClient, me: Headers
) -> None:
    text = answers_body("1").replace('"phq9_2": 0', '"phq9_2": 0, "phq9_2": 3')
    response = client.post(PHQ9, data=text, content_type="application/json", headers=me)
    body = assert_problem(response, 400, "malformed-json")
    assert body["errors"] == {"answers": ["the key 'phq9_2' appears more than once"]}


def test_a_body_that_is_not_utf8_is_a_400(client: FlaskClient, me: Headers) -> None:
    text = answers_body("1").encode().replace(b'"baseline"', b'"basel\xffine"')
    response = client.post(PHQ9, data=text, content_type="application/json", headers=me)
    assert_problem(response, 400, "malformed-json")


def chunked(client: FlaskClient, path: str, payload: bytes, headers: Headers):
    """A body sent without a Content-Length, as gunicorn hands on a chunked one."""
    return client.post(
        path,
        input_stream=io.BytesIO(payload),
        headers={**headers, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_base={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_the_limit_is_a_413(
    client: FlaskClient, app: Flask, auth: Callable[..., Headers]
) -> None:
    over = app.config["MAX_CONTENT_LENGTH"] + 1
    payload = json.dumps({"label": "x" * over, "roles": ["admin"]}).encode()
    response = chunked(client, "/api/v1/tokens", payload, auth("admin"))
    assert_problem(response, 413, "payload-too-large")


def test_a_chunked_body_within_the_limit_is_read_whole(
    client: FlaskClient, auth: Callable[..., Headers]
) -> None:
    payload = json.dumps({"label": "chunked", "roles": ["analyst"]}).encode()
    response = chunked(client, "/api/v1/tokens", payload, auth("admin"))
    assert response.status_code == 201, response.get_json()


def test_a_nul_in_a_query_parameter_is_a_422_naming_it(
    client: FlaskClient, auth: Callable[..., Headers]
) -> None:
    response = client.get("/api/v1/participants?site=a%00b", headers=auth("researcher"))
    body = assert_problem(response, 422, "validation-failed")
    assert list(body["errors"]) == ["site"]


def test_a_misspelt_filter_is_a_422_not_the_wrong_rows(
    client: FlaskClient, auth: Callable[..., Headers]
) -> None:
    response = client.get(
        "/api/v1/exports/responses?instrument=phq-9&version=1.0.0&timepiont=month-3",
        headers=auth("analyst"),
    )
    body = assert_problem(response, 422, "unknown-parameter")
    assert body["errors"] == {"timepiont": ["Unknown parameter."]}


def every_route(app: Flask) -> Iterator[tuple[str, str]]:
    """(method, path) for each rule and method of the URL map, variables filled in."""
    values = {"uuid": str(uuid.uuid4()), "int": "1"}
    for rule in app.url_map.iter_rules():
        path = re.sub(
            r"<(?:([^<>:]+):)?([^<>]+)>",
            lambda m: values.get(m.group(1) or "", "PSAM-7K3M9QXR-4"),
            rule.rule,
        )
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
            yield method, path


def test_every_route_refuses_an_unknown_query_parameter(
    app: Flask,
    client: FlaskClient,
    auth: Callable[..., Headers],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Derived from the URL map, so a route added later is covered without a new test."""
    staff = auth("researcher", "analyst", "auditor", "admin")
    participant = auth("participant")
    # /metrics admits only the scraper's own token (PSAM_METRICS_TOKEN).
    scraper_token = "scraper-" + "q" * 32
    digest = hashlib.sha256(scraper_token.encode()).hexdigest()
    monkeypatch.setitem(app.config, "PSAM_METRICS_TOKEN_SHA256", digest)
    scraper = {"Authorization": f"Bearer {scraper_token}"}
    routes = list(every_route(app))
    assert len(routes) > 30
    for method, path in routes:
        answers = [
            client.open(f"{path}?timepiont=month-3", method=method, headers=headers)
            for headers in (staff, participant, scraper)
        ]
        admitted = [a for a in answers if a.status_code not in (401, 403)]
        assert admitted, f"{method} {path}: no test token is admitted"
        for answer in admitted:
            if path.startswith("/fhir/"):  # the FHIR face's errors are OperationOutcomes
                assert (answer.status_code, answer.mimetype) == (422, "application/fhir+json")
                (issue,) = answer.get_json()["issue"]
                assert issue["expression"] == ["timepiont"], (method, path)
                continue
            body = assert_problem(answer, 422, "unknown-parameter")
            assert body["errors"] == {"timepiont": ["Unknown parameter."]}, (method, path)


@pytest.mark.parametrize("code", ["malformed-json", "unknown-parameter"])
def test_the_new_problem_types_are_explained_in_the_catalogue(
    client: FlaskClient, code: str
) -> None:
    problem = client.get(f"/api/v1/problems/{code}").get_json()
    assert problem["type"] == f"/api/v1/problems/{code}"
    assert problem["description"]

"""Every error is RFC 9457 problem+json; nothing internal leaks from a 500."""

import io
import json
import logging
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from service import create_app
from service.api.access import public
from service.config import config_for_tests

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"] == f"/api/v1/problems/{code}"
    assert body["title"] and body["detail"]
    assert body["instance"] == f"urn:uuid:{response.headers['X-Request-ID']}"
    return body


def test_unknown_address_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not-found")


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/api/v1/instruments")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]


def test_a_body_over_the_limit_is_413(client: FlaskClient, auth) -> None:
    big = json.dumps({"label": "x" * (300 * 1024), "roles": ["admin"]})
    response = client.post(
        "/api/v1/tokens", data=big, content_type="application/json", headers=auth("admin")
    )
    assert_problem(response, 413, "payload-too-large")


def test_a_body_that_is_not_json_is_415(client: FlaskClient, auth) -> None:
    response = client.post(
        "/api/v1/tokens",
        data="label=x&roles=admin",
        headers=auth("admin"),
        content_type="application/x-www-form-urlencoded",
    )
    assert_problem(response, 415, "unsupported-media-type")


def test_malformed_json_is_400(client: FlaskClient, auth) -> None:
    response = client.post(
        "/api/v1/tokens", data="{not json", content_type="application/json", headers=auth("admin")
    )
    assert_problem(response, 400, "malformed-json")


def test_unknown_fields_and_bad_values_are_a_422_naming_each_field(
    client: FlaskClient, auth
) -> None:
    response = client.post(
        "/api/v1/tokens",
        json={"label": "", "roles": ["admin", "wizard"], "expires_days": 0, "colour": "red"},
        headers=auth("admin"),
    )
    body = assert_problem(response, 422, "validation-failed")
    assert set(body["errors"]) == {"label", "roles[1]", "expires_days", "colour"}
    assert body["errors"]["colour"] == ["Unknown field."]


def test_a_missing_body_is_a_422_naming_the_required_fields(client: FlaskClient, auth) -> None:
    response = client.post("/api/v1/tokens", headers=auth("admin"))
    body = assert_problem(response, 422, "validation-failed")
    assert set(body["errors"]) == {"label", "roles"}


def test_a_json_array_body_is_a_422_not_a_500(client: FlaskClient, auth) -> None:
    response = client.post("/api/v1/tokens", json=[1, 2], headers=auth("admin"))
    assert_problem(response, 422, "validation-failed")


@pytest.fixture
def failing_app(database_url: str, tmp_path: Path) -> Flask:
    app = create_app(config_for_tests(database_url, str(tmp_path)))

    @app.get("/boom")
    @public
    def boom() -> str:
        raise RuntimeError("password=hunter2 at /srv/secret.py line 3")

    yield app
    app.extensions["psam_db"].engine.dispose()


def test_an_unexpected_failure_is_a_500_that_reveals_nothing(failing_app: Flask, caplog) -> None:
    response = failing_app.test_client().get("/boom")
    body = assert_problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "RuntimeError" not in text and "secret.py" not in text
    assert set(body) == {"type", "title", "status", "detail", "instance"}


def test_the_problem_catalogue_explains_each_type(client: FlaskClient) -> None:
    listing = client.get("/api/v1/problems").get_json()["problems"]
    codes = {p["code"] for p in listing}
    assert {"not-found", "validation-failed", "authentication-required", "forbidden"} <= codes
    one = client.get("/api/v1/problems/forbidden").get_json()
    assert one["status"] == 403 and one["type"] == "/api/v1/problems/forbidden"
    assert_problem(client.get("/api/v1/problems/nope"), 404, "not-found")


def test_a_valid_request_id_from_the_caller_is_echoed_and_a_bad_one_replaced(
    client: FlaskClient,
) -> None:
    rid = "0b4f0d8e-8a9c-4a53-9d2c-6a8f6ad3e4b1"
    assert client.get("/healthz", headers={"X-Request-ID": rid}).headers["X-Request-ID"] == rid
    other = client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert other != "<script>" and len(other) == 36


def test_a_database_error_is_logged_without_the_values_the_driver_quotes(fresh_app) -> None:
    app = fresh_app("psam_db_error_log")
    canary = "PSAM-CANARY00-0"

    @app.post("/twice")
    @public
    def twice() -> str:
        # Two rows with one study ID: the unique constraint fails, and PostgreSQL's message
        # quotes the value ("Key (study_id)=(PSAM-CANARY00-0) already exists").
        with app.extensions["psam_db"].engine.begin() as conn:
            for _ in range(2):
                conn.execute(
                    text(
                        "INSERT INTO participants (id, study_id, enrolled_at) VALUES (:i, :s, :t)"
                    ),
                    {"i": uuid.uuid4().hex, "s": canary, "t": "2026-11-26 12:00:00"},
                )
        return "unreachable"

    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    logger = logging.getLogger("service")  # it does not propagate: listen on it directly
    logger.addHandler(handler)
    try:
        response = app.test_client().post("/twice")
    finally:
        logger.removeHandler(handler)
    assert_problem(response, 500, "internal-error")
    logged = captured.getvalue()
    assert "unhandled database error" in logged
    assert canary not in logged


@pytest.mark.parametrize("cause", ["DeadlockDetected", "SerializationFailure"])
def test_a_transaction_the_database_undid_to_let_another_finish_is_a_503_to_send_again(
    failing_app: Flask, cause: str
) -> None:
    """PostgreSQL rolls one of two deadlocked (or non-serialisable) transactions back whole:
    its caller is told to send the request again, not that the service failed."""
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    error = getattr(psycopg.errors, cause)(f"{cause}: Process 4242 waits for ShareLock on 99")

    @failing_app.post(f"/undone-{cause}")
    @public
    def undone() -> str:
        raise OperationalError("UPDATE interviews SET status=%(s)s", {"s": "x"}, error)

    response = failing_app.test_client().post(f"/undone-{cause}")
    body = assert_problem(response, 503, "try-again")
    assert response.headers["Retry-After"] == "1"
    assert "4242" not in response.get_data(as_text=True) and "nothing" in body["detail"]

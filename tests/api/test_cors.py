"""Browser front ends on other origins: an allow-list, preflights without a token, no
credentials mode, and the headers a client needs to read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from service import create_app
from service.api.cors import EXPOSED_HEADERS
from service.config import ConfigError, config_for_tests, load_config, parse_origins

ALLOWED = "https://app.example.org"
REFUSED = "https://evil.example.net"


@pytest.fixture
def cors_app(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on the suite's (migrated, synced) database with one origin on the allow-list."""
    settings = config_for_tests(database_url, str(tmp_path / "instance"))
    settings["PSAM_KEYRING"] = app.config["PSAM_KEYRING"]
    settings["PSAM_CORS_ORIGINS"] = f"{ALLOWED}, http://localhost:5173"
    made = create_app(settings)
    yield made
    made.extensions["psam_db"].engine.dispose()


@pytest.fixture
def cors_client(cors_app: Flask) -> FlaskClient:
    return cors_app.test_client()


def access_log_length(app: Flask) -> int:
    with app.extensions["psam_db"].engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM access_log")).scalar_one())


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(
    cors_client: FlaskClient,
) -> None:
    answer = cors_client.options(
        "/api/v1/me/responses",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    allowed_headers = answer.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "idempotency-key"} <= {
        h.strip() for h in allowed_headers.split(",")
    }
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_a_preflight_for_a_staff_route_needs_no_token_either(cors_client: FlaskClient) -> None:
    answer = cors_client.options(
        "/api/v1/exports/responses",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"},
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"


def test_a_preflight_for_a_staff_route_is_not_a_staff_call_and_is_not_logged(
    cors_app: Flask,
) -> None:
    before = access_log_length(cors_app)
    for path in ("/api/v1/exports/responses", "/api/v1/audit/access-log", "/api/v1/tokens"):
        answer = cors_app.test_client().options(
            path, headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
        )
        assert answer.status_code == 204
    assert access_log_length(cors_app) == before


def test_answers_to_an_allowed_origin_expose_the_headers_a_client_reads(
    cors_client: FlaskClient,
) -> None:
    answer = cors_client.get("/api/v1/consent/form", headers={"Origin": ALLOWED})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = {h.strip() for h in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {
        "X-Request-ID",
        "X-Export-Id",
        "X-Export-Read-From",
        "X-Export-Data-As-Of",
        "Idempotent-Replayed",
        "Retry-After",
        "ETag",
    }
    assert set(EXPOSED_HEADERS) == exposed
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert "Origin" in answer.headers["Vary"]


def test_an_error_to_an_allowed_origin_is_readable_by_its_script(
    cors_client: FlaskClient,
) -> None:
    answer = cors_client.get("/api/v1/me", headers={"Origin": ALLOWED})
    assert answer.status_code == 401
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_a_preflight_from_a_refused_origin_gets_a_403_and_no_cors_headers(
    cors_client: FlaskClient,
) -> None:
    answer = cors_client.options(
        "/api/v1/me/responses",
        headers={"Origin": REFUSED, "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 403
    assert answer.mimetype == "application/problem+json"
    assert not [h for h, _ in answer.headers.items() if h.lower().startswith("access-control-")]


def test_answers_to_a_refused_origin_carry_no_cors_headers(cors_client: FlaskClient) -> None:
    answer = cors_client.get("/api/v1/consent/form", headers={"Origin": REFUSED})
    assert answer.status_code == 200
    assert not [h for h, _ in answer.headers.items() if h.lower().startswith("access-control-")]


def test_by_default_no_origin_is_allowed(client: FlaskClient) -> None:
    answer = client.options(
        "/api/v1/me/responses",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 403
    plain = client.get("/api/v1/consent/form", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in plain.headers


def test_an_options_request_that_is_not_a_preflight_still_needs_a_token(
    cors_client: FlaskClient,
) -> None:
    assert cors_client.options("/api/v1/me", headers={"Origin": ALLOWED}).status_code == 401


@pytest.mark.parametrize(
    "text", ["*", "https://app.example.org/path", "app.example.org", "https://*.example.org"]
)
def test_an_allow_list_entry_that_is_not_an_origin_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="must list origins"):
        parse_origins(text)


def test_the_allow_list_reads_commas_and_spaces_and_ignores_case() -> None:
    assert parse_origins(" https://A.example.org,http://localhost:5173  https://b.org/ ") == {
        "https://a.example.org",
        "http://localhost:5173",
        "https://b.org",
    }
    assert parse_origins("") == frozenset()


def test_the_service_refuses_to_start_with_a_bad_allow_list(tmp_path: Path) -> None:
    settings = config_for_tests(f"sqlite:///{tmp_path / 'x.sqlite3'}", str(tmp_path))
    settings["PSAM_CORS_ORIGINS"] = "*"
    with pytest.raises(ConfigError, match="PSAM_CORS_ORIGINS must list origins"):
        create_app(settings)


def test_a_bad_allow_list_in_the_environment_stops_the_settings_naming_it() -> None:
    with pytest.raises(ConfigError, match="PSAM_CORS_ORIGINS must list origins") as refused:
        load_config({"PSAM_CORS_ORIGINS": "https://app.example.org/*"})
    assert refused.value.variable == "PSAM_CORS_ORIGINS"

"""Every role against every endpoint: one table, and a check that no endpoint is missing."""

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import valid_signature

ROLES = ("researcher", "analyst", "auditor", "admin", "participant")
ANYONE = {None, *ROLES}
VALID_TOKEN_BODY = {"label": "table", "roles": ["analyst"]}
SIGNATURE = "signature"  # stands for a valid consent body, built from the form in force

# (method, path, body): who gets in. Everyone else gets 401 (no token) or 403 (wrong role).
TABLE: list[tuple[str, str, dict | str | None, set]] = [
    ("GET", "/healthz", None, ANYONE),
    ("GET", "/readyz", None, ANYONE),
    ("GET", "/api/v1/instruments", None, ANYONE),
    ("GET", "/api/v1/instruments/phq-9/versions/1.0.0", None, ANYONE),
    ("GET", "/api/v1/consent/form", None, ANYONE),
    ("GET", "/api/v1/problems", None, ANYONE),
    ("GET", "/api/v1/problems/not-found", None, ANYONE),
    ("GET", "/api/v1/openapi.json", None, ANYONE),
    ("GET", "/api/v1/docs", None, ANYONE),
    ("GET", "/api/v1/tokens", None, {"admin"}),
    ("POST", "/api/v1/tokens", VALID_TOKEN_BODY, {"admin"}),
    ("POST", "/api/v1/tokens/{token_id}/revoke", None, {"admin"}),
    ("POST", "/api/v1/participants", {}, {"researcher"}),
    ("POST", "/api/v1/participants/{study_id}/withdrawal", {"scope": "stop"}, {"researcher"}),
    ("GET", "/api/v1/me", None, {"participant"}),
    ("GET", "/api/v1/me/consent", None, {"participant"}),
    ("POST", "/api/v1/me/consent", SIGNATURE, {"participant"}),
    ("POST", "/api/v1/me/withdrawal", {"scope": "no-further-contact"}, {"participant"}),
    ("GET", "/api/v1/audit/consent-log", None, {"auditor"}),
    ("GET", "/api/v1/audit/consent-log/verify", None, {"auditor"}),
    ("GET", "/api/v1/audit/access-log", None, {"auditor"}),
    ("GET", "/api/v1/audit/access-log/verify", None, {"auditor"}),
    ("GET", "/api/v1/audit/checkpoints", None, {"auditor"}),
    ("GET", "/api/v1/audit/public-key", None, {"auditor"}),
]


def enrolled(client: FlaskClient, make_token: Callable[..., str]) -> str:
    response = client.post(
        "/api/v1/participants",
        json={},
        headers={"Authorization": f"Bearer {make_token('researcher')}"},
    )
    return response.get_json()["study_id"]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), TABLE)
@pytest.mark.parametrize("role", [None, *ROLES])
def test_role_against_endpoint(
    client: FlaskClient,
    make_token: Callable[..., str],
    role: str | None,
    method: str,
    path: str,
    body: dict | None,
    allowed: set,
) -> None:
    if "{study_id}" in path:
        path = path.format(study_id=enrolled(client, make_token))
    if body == SIGNATURE:
        body = valid_signature(client)
    if "{token_id}" in path:
        victim = client.post(
            "/api/v1/tokens",
            json=VALID_TOKEN_BODY,
            headers={"Authorization": f"Bearer {make_token('admin')}"},
        ).get_json()
        path = path.format(token_id=victim["id"])
    headers = {"Authorization": f"Bearer {make_token(role)}"} if role else {}
    response = client.open(path, method=method, json=body, headers=headers)
    if role in allowed:
        assert response.status_code < 300, response.get_data(as_text=True)
    elif role is None:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    else:
        assert response.status_code == 403
        assert response.get_json()["type"] == "/api/v1/problems/forbidden"


def test_the_table_covers_every_route_the_app_serves(app: Flask) -> None:
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = set()
    for method, path, _, _ in TABLE:
        listed.add((method, path))
    normalised = {
        (
            m,
            r.replace("<instrument_id>", "phq-9")
            .replace("<version>", "1.0.0")
            .replace("<code>", "not-found")
            .replace("<uuid:token_id>", "{token_id}")
            .replace("<study_id>", "{study_id}"),
        )
        for m, r in served
    }
    assert normalised == listed


@pytest.mark.parametrize(
    "header",
    [
        "Bearer psam_s_" + "A" * 49,  # right shape, wrong checksum
        "Bearer not-a-token",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer ",
        "psam_s_xyz",
    ],
)
def test_a_bad_authorization_header_is_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/v1/tokens", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_token_is_not_accepted_in_the_query_string(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    token = make_token("admin")
    assert client.get(f"/api/v1/tokens?access_token={token}").status_code == 401
    assert (
        client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )

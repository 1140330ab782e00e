"""Admins manage staff tokens over HTTP; a token's secret is shown once."""

from flask.testing import FlaskClient


def test_an_admin_issues_a_token_that_works_at_once_and_is_never_listed(
    client: FlaskClient, auth
) -> None:
    admin = auth("admin")
    created = client.post(
        "/api/v1/tokens",
        json={"label": "stats team", "roles": ["analyst"], "expires_days": 90},
        headers=admin,
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["roles"] == ["analyst"] and body["expires_at"].endswith("Z")
    token = body["token"]
    assert token.startswith("psam_s_") and body["hint"] == token[:11] + "..."

    listing = client.get("/api/v1/tokens", headers=admin)
    assert token not in listing.get_data(as_text=True)
    ids = [t["id"] for t in listing.get_json()["tokens"]]
    assert body["id"] in ids

    own = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/tokens", headers=own).status_code == 403  # analyst, not admin


def test_a_revoked_token_stops_working(client: FlaskClient, auth) -> None:
    admin = auth("admin")
    body = client.post(
        "/api/v1/tokens", json={"label": "temp admin", "roles": ["admin"]}, headers=admin
    ).get_json()
    mine = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/v1/tokens", headers=mine).status_code == 200
    revoked = client.post(f"/api/v1/tokens/{body['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"].endswith("Z")
    after = client.get("/api/v1/tokens", headers=mine)
    assert after.status_code == 401
    assert "revoked" in after.get_json()["detail"]


def test_revoking_an_unknown_token_is_404(client: FlaskClient, auth) -> None:
    response = client.post(
        "/api/v1/tokens/00000000-0000-4000-8000-000000000000/revoke", headers=auth("admin")
    )
    assert response.status_code == 404

"""A retry of ``stop-and-erase`` gets its first receipt, though the erasure revoked the token."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from tests.conftest import valid_signature

ERASE = {"scope": "stop-and-erase"}


def consented(client: FlaskClient, make_token: Callable[..., str]) -> dict[str, str]:
    me = {"Authorization": f"Bearer {make_token('participant')}"}
    assert client.post("/api/v1/me/consent", json=valid_signature(client), headers=me).status_code
    return me


def test_a_retried_stop_and_erase_gets_its_first_receipt_back(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    me = {**consented(client, make_token), "Idempotency-Key": "erase-once"}
    first = client.post("/api/v1/me/withdrawal", json=ERASE, headers=me)
    assert first.status_code == 201
    assert client.get("/api/v1/me", headers=me).status_code == 401  # the token is revoked
    retried = client.post("/api/v1/me/withdrawal", json=ERASE, headers=me)
    assert retried.status_code == 201
    assert retried.get_json() == first.get_json()
    assert retried.get_json()["scope"] == "stop-and-erase"
    assert retried.headers["Idempotent-Replayed"] == "true"


def test_after_an_erasure_another_key_no_key_or_another_body_gets_401(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    me = consented(client, make_token)
    erased = client.post(
        "/api/v1/me/withdrawal", json=ERASE, headers={**me, "Idempotency-Key": "erase-k"}
    )
    assert erased.status_code == 201
    for headers, body in [
        ({**me, "Idempotency-Key": "another-key"}, ERASE),
        (me, ERASE),
        ({**me, "Idempotency-Key": "erase-k"}, {"scope": "stop"}),
    ]:
        refused = client.post("/api/v1/me/withdrawal", json=body, headers=headers)
        assert refused.status_code == 401
        assert refused.mimetype == "application/problem+json"
        assert "Idempotent-Replayed" not in refused.headers


def test_the_erasure_receipt_is_not_replayed_to_another_participant(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    erased = {**consented(client, make_token), "Idempotency-Key": "shared-key"}
    assert client.post("/api/v1/me/withdrawal", json=ERASE, headers=erased).status_code == 201
    other = {**consented(client, make_token), "Idempotency-Key": "shared-key"}
    theirs = client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=other)
    assert theirs.status_code == 201
    assert theirs.get_json()["scope"] == "stop"
    assert "Idempotent-Replayed" not in theirs.headers

"""Hostile bodies through a real gunicorn: chunked bodies are measured, not truncated."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.system.conftest import LiveServer

pytestmark = pytest.mark.system


def post_chunked(
    server: LiveServer, path: str, payload: bytes, token: str, piece: int = 8192
) -> tuple[int, dict]:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        pieces = (payload[i : i + piece] for i in range(0, len(payload), piece))
        conn.request(
            "POST",
            path,
            body=pieces,
            encode_chunked=True,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_chunked_body_over_the_limit_is_a_413_from_gunicorn(live_server: LiveServer) -> None:
    payload = json.dumps({"label": "x" * (300 * 1024), "roles": ["analyst"]}).encode()
    status, body = post_chunked(live_server, "/api/v1/tokens", payload, live_server.admin_token)
    assert status == 413, body
    assert body["type"] == "/api/v1/problems/payload-too-large"


def test_a_chunked_body_within_the_limit_is_served_by_gunicorn(live_server: LiveServer) -> None:
    payload = json.dumps({"label": "sent in chunks of ten bytes", "roles": ["analyst"]}).encode()
    status, body = post_chunked(
        live_server, "/api/v1/tokens", payload, live_server.admin_token, piece=10
    )
    assert status == 201, body


def test_deep_nesting_sent_chunked_is_a_400_not_a_crash(live_server: LiveServer) -> None:
    payload = b"[" * 100_000
    status, body = post_chunked(live_server, "/api/v1/tokens", payload, live_server.admin_token)
    assert status == 400, body
    assert body["type"] == "/api/v1/problems/malformed-json"

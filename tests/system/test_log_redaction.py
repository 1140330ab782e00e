"""No token reaches the logs: a real gunicorn, canary tokens sent every way a client (or an
attacker) might send them, a forced database error, and a search of everything it wrote."""

from __future__ import annotations

import secrets
import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from service.config import PROJECT_ROOT
from tests.conftest import shipped_version
from tests.system.conftest import BIN, free_port, wait_until_healthy
from tests.system.harness import bearer, call, consented_participant, deploy

pytestmark = pytest.mark.system


def canary(prefix: str, length: int = 43) -> tuple[str, str]:
    """A token-shaped value and the random tail by which the logs are searched for it."""
    tail = "CANARY" + "".join(
        secrets.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        for _ in range(length)
    )
    return prefix + tail, tail


def send_raw(port: int, data: bytes) -> bytes:
    """Bytes gunicorn's parser refuses (a header line without a colon, say), as sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


def test_canary_tokens_sent_every_way_never_reach_the_logs(tmp_path: Path) -> None:
    deployment = deploy("log_redaction", tmp_path)
    env = {**deployment.env, "PSAM_LOG_LEVEL": "DEBUG"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    tails: list[str] = []

    def make(prefix: str, length: int = 43) -> str:
        value, tail = canary(prefix, length)
        tails.append(tail)
        return value

    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                "gunicorn.conf.py",
                "--workers",
                "1",
                "--log-level",
                "debug",
                "--bind",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(url, proc)
            study_id, participant = consented_participant(url, deployment)

            # Headers: well-formed, cut short, wrong kind, and a credential of no known shape.
            for value in (
                make("psam_s_"),
                make("psam_p_"),
                make("psam_s_", 9),
                make("psam_"),
                make("not-a-token-"),
            ):
                status, _ = call(url, "GET", "/api/v1/tokens", headers=bearer(value))
                assert status == 401
            # Query strings, also a token under a name we do not take.
            status, _ = call(url, "GET", f"/api/v1/tokens?access_token={make('psam_s_')}")
            assert status == 401
            status, _ = call(
                url, "GET", f"/api/v1/me?token={make('psam_p_')}", headers=bearer(participant)
            )
            assert status == 422
            # Bodies: well-formed JSON, malformed JSON and a body that is not JSON.
            status, _ = call(
                url,
                "POST",
                "/api/v1/participants",
                {"site": make("psam_s_")},
                bearer(deployment.auditor),
            )
            assert status == 403
            malformed = b'{"answers": {"phq9_1": NaN}, "x": "' + make("psam_p_", 20).encode()
            answer = send_raw(
                port,
                b"POST /api/v1/me/responses HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Content-Type: application/json\r\nAuthorization: Bearer "
                + participant.encode()
                + f"\r\nContent-Length: {len(malformed)}\r\n\r\n".encode()
                + malformed,
            )
            assert b" 400 " in answer.split(b"\r\n")[0]
            # Lines gunicorn refuses before the app sees them: it logs what it could not read.
            for raw in (
                b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization Bearer "
                + make("psam_p_").encode()
                + b"\r\n\r\n",
                b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthori\x01zation: Bearer "
                + make("psam_p_").encode()
                + b"\r\n\r\n",
                b"GET /api/v1/me?token=" + make("psam_s_").encode() + b" HTTP/1.1 x\r\n\r\n",
            ):
                answer = send_raw(port, raw)
                assert answer.startswith(b"HTTP/1.1 400"), answer[:200]

            # A database error while a canary is a bound value: the table the
            # Idempotency-Key is looked up in is gone.
            engine = create_engine(deployment.env["DATABASE_URL"])
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE idempotency_records RENAME TO gone_for_the_test"))
            engine.dispose()
            status, _ = call(
                url,
                "POST",
                "/api/v1/me/responses",
                {
                    "instrument": "phq-9",
                    "version": shipped_version("phq-9"),
                    "timepoint": "baseline",
                },
                {**bearer(participant), "Idempotency-Key": make("psam_s_", 30)},
            )
            assert status == 500
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    written = log.read_text(encoding="utf-8", errors="replace")
    leaked = [tail for tail in tails if tail in written]
    assert leaked == [], f"{len(leaked)} of {len(tails)} canaries in the log"
    # The log did record each event, with the token blanked: the test saw what it sought.
    assert "Invalid request from ip=127.0.0.1" in written
    assert "[REDACTED]" in written
    # A database error is logged by its kind alone: not the driver's message, not the SQL.
    assert "unhandled database error" in written
    assert "gone_for_the_test" not in written and "[parameters:" not in written
    assert participant not in written and study_id not in written

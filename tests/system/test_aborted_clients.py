"""Clients that drop their connections with requests in flight leave nothing stuck: the next
load is served in full, no database connection is left idle in a transaction, and SIGTERM
stops the server within its graceful timeout.

Throughput before and after is printed, not asserted: timings on a shared machine are for
the benchmarks, and a stuck pool shows up here as failed or timed-out requests instead.
"""

import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.system.harness import Gunicorn, bearer, call, consented_participant, deploy

pytestmark = pytest.mark.system
GRACEFUL_TIMEOUT = 30  # gunicorn.conf.py


def load(server: Gunicorn, tokens: list[str], body: dict, seconds: float) -> tuple[int, list]:
    """Re-signing consent (a ledger append) from one thread per token, for a while."""
    done = [0]
    failures: list[object] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(token: str) -> None:
        while time.monotonic() < stop:
            try:
                status, result = call(
                    server.url, "POST", "/api/v1/me/consent", body, bearer(token), timeout=10
                )
            except OSError as exc:
                status, result = 0, exc
            with lock:
                if status == 201:
                    done[0] += 1
                else:
                    failures.append((status, result))

    threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    return done[0], failures


def abandon(server: Gunicorn, token: str, body: bytes, seconds: float) -> int:
    """Send whole requests and hang up while they are being served, like a phone losing its
    signal: each client waits a moment (the request is in flight), then drops the line."""
    sent = 0
    stop = time.monotonic() + seconds
    request = (
        f"POST /api/v1/me/consent HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    while time.monotonic() < stop:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(request)
            time.sleep(0.02)
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
        sent += 1
    return sent


def test_dropped_connections_leave_nothing_stuck(tmp_path: Path) -> None:
    import json

    # The load is consent re-signing, which the service bounds per participant per day.
    deployment = deploy("psam_aborted_test", tmp_path, PSAM_CONSENT_SIGNINGS_PER_DAY="1000000")
    server = Gunicorn(deployment).start()
    try:
        # Each load signs for participants of its own: every signing reads the signer's
        # history, so reusing the first load's participants would make the second slower.
        tokens, later = (
            [consented_participant(server.url, deployment)[1] for _ in range(8)] for _ in "ab"
        )
        _, form = call(server.url, "GET", "/api/v1/consent/form")
        body = {
            "form_version": form["version"],
            "form_hash": form["sha256"],
            "clauses": {c["id"]: True for c in form["clauses"]},
            "typed_name": "Load",
        }

        first, failures = load(server, tokens, body, 3)
        assert failures == [] and first > 0

        droppers = [
            threading.Thread(target=abandon, args=(server, tokens[i], json.dumps(body).encode(), 3))
            for i in range(8)
        ]
        for thread in droppers:
            thread.start()
        for thread in droppers:
            thread.join(timeout=60)

        second, failures = load(server, later, body, 3)
        assert failures == []  # every request of the second load was served
        print(f"throughput before {first / 3:.0f}/s, after dropped clients {second / 3:.0f}/s")

        url = make_url(deployment.env["DATABASE_URL"])
        if url.get_backend_name() == "postgresql":
            time.sleep(5)
            engine = create_engine(url)
            with engine.connect() as conn:
                stuck = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                        "AND state LIKE 'idle in transaction%' "
                        "AND state_change < now() - interval '5 seconds'"
                    ),
                    {"db": url.database},
                ).scalar()
            engine.dispose()
            assert stuck == 0

        _, verdict = call(
            server.url,
            "GET",
            "/api/v1/audit/consent-log/verify",
            headers=bearer(deployment.auditor),
        )
        assert verdict["ok"], verdict
    finally:
        assert server.proc is not None
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < GRACEFUL_TIMEOUT
        assert server.proc.returncode == 0

"""Helpers for system tests that run several real gunicorn instances and kill them."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.config import PROJECT_ROOT
from tests.conftest import fresh_database, shipped_version
from tests.system.conftest import BIN, free_port, run_cli, wait_until_healthy
from tests.system.postgres import PgBouncer


@dataclass
class Deployment:
    """One database and keyring that any number of gunicorn instances can serve."""

    env: dict[str, str]
    researcher: str
    auditor: str


def deploy(
    name: str,
    folder: Path,
    *,
    pooler: PgBouncer | None = None,
    database_url: str | None = None,
    **settings: str,
) -> Deployment:
    """A migrated database with instruments, keys and staff tokens (a fresh one of the
    suite's kind unless ``database_url`` names one); with ``pooler``, the gunicorn instances
    (and later CLI calls) reach it through that PgBouncer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PSAM_"))}
    if database_url is None:
        database_url = fresh_database(name if pooler is None else f"{name}_pooled", folder)
    env.update(
        DATABASE_URL=database_url,
        PSAM_INSTANCE_DIR=str(folder / f"{name}-instance"),
        PSAM_LOG_LEVEL="WARNING",
    )
    env.update(settings)
    for args in (("keys", "init"), ("db", "upgrade"), ("instruments", "sync")):
        done = run_cli(env, *args)
        assert done.returncode == 0, done.stderr
    tokens = []
    for role in ("researcher", "auditor"):
        made = run_cli(env, "tokens", "create", "--role", role, "--label", f"system {role}")
        assert made.returncode == 0, made.stderr
        tokens.append(made.stdout.strip().splitlines()[-1])
    if pooler is not None:  # migrated directly, served through the pooler
        env.update(DATABASE_URL=pooler.url_for(database_url), PSAM_DATABASE_POOLER="pgbouncer")
    return Deployment(env, *tokens)


class Gunicorn:
    """A gunicorn master and its workers on a port of its own."""

    def __init__(
        self,
        deployment: Deployment,
        port: int | None = None,
        workers: int = 3,
        log: Path | None = None,
    ):
        self.deployment = deployment
        self.port = port or free_port()
        self.workers = workers
        self.log = log  # where its access and error logs go (nowhere when None)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        sink = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                "gunicorn.conf.py",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=self.deployment.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        if self.log is not None:
            sink.close()  # the child holds its own copy
        wait_until_healthy(self.url, self.proc)
        return self

    def kill_hard(self) -> None:
        """SIGKILL the master and every worker at once, as a power cut would."""
        assert self.proc is not None
        children = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in [self.proc.pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """One HTTP request on a new connection; raises OSError when the server is gone."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body)
        sent = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            conn.request(method, path, body=payload, headers={**sent, **(headers or {})})
            response = conn.getresponse()
            raw = response.read()
        except http.client.HTTPException as exc:  # e.g. the server died mid-answer
            raise ConnectionError(f"no complete answer: {exc!r}") from exc
        data = (
            json.loads(raw)
            if raw and response.getheader("Content-Type", "").endswith("json")
            else raw
        )
        return response.status, data
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def consented_participant(base: str, deployment: Deployment) -> tuple[str, str]:
    """Enrol and consent one participant; returns (study ID, token)."""
    status, made = call(base, "POST", "/api/v1/participants", {}, bearer(deployment.researcher))
    assert status == 201, made
    _, form = call(base, "GET", "/api/v1/consent/form")
    body = {
        "form_version": form["version"],
        "form_hash": form["sha256"],
        "clauses": {c["id"]: True for c in form["clauses"]},
        "typed_name": "System Test",
    }
    status, receipt = call(base, "POST", "/api/v1/me/consent", body, bearer(made["token"]))
    assert status == 201, receipt
    return made["study_id"], made["token"]


PHQ9 = {f"phq9_{i}": 1 for i in range(1, 10)} | {"phq9_10": 1}


def submit_phq9(base: str, token: str, key: str | None = None) -> tuple[int, Any]:
    """Submit a baseline PHQ-9 (every item 1), with an Idempotency-Key when one is given."""
    body = {
        "instrument": "phq-9",
        "version": shipped_version("phq-9"),
        "timepoint": "baseline",
        "answers": PHQ9,
        "submit": True,
    }
    headers = {**bearer(token), **({"Idempotency-Key": key} if key is not None else {})}
    return call(base, "POST", "/api/v1/me/responses", body, headers)

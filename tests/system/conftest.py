"""A real gunicorn serving the app on a loopback port, set up with the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from service.config import PROJECT_ROOT
from tests.conftest import ON_POSTGRESQL, TEST_DATABASE_URL, fresh_database

if TYPE_CHECKING:
    from tests.system.postgres import PgBouncer

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class LiveServer:
    url: str
    admin_token: str
    env: dict[str, str]
    log: Path

    def new_token(self, *roles: str) -> str:
        """A fresh staff token (the fuzzer may revoke the tokens it can list)."""
        args = [arg for role in roles for arg in ("--role", role)]
        created = run_cli(self.env, "tokens", "create", "--label", "system test", *args)
        assert created.returncode == 0, created.stderr
        return created.stdout.strip().splitlines()[-1]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready")


@pytest.fixture(scope="session")
def system_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("system")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PSAM_"))}
    env.update(
        DATABASE_URL=fresh_database("psam_system_test", folder),
        PSAM_INSTANCE_DIR=str(folder / "instance"),
        PSAM_LOG_LEVEL="INFO",
        PSAM_ENROLMENT_CODE="system-test-code",
        PSAM_ENROLMENT_LIMIT="5/hour",
    )
    return env


@pytest.fixture(scope="session")
def live_server(system_env: dict[str, str]) -> Iterator[LiveServer]:
    for args in (("keys", "init"), ("db", "upgrade"), ("instruments", "sync")):
        result = run_cli(system_env, *args)
        assert result.returncode == 0, result.stderr
    created = run_cli(system_env, "tokens", "bootstrap-admin")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    port = free_port()
    log = Path(system_env["PSAM_INSTANCE_DIR"]).parent / "gunicorn.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                "gunicorn.conf.py",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=system_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, proc)
            yield LiveServer(url, token, system_env, log)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    """PgBouncer in transaction pooling mode in front of the test database's server."""
    from tests.system.postgres import PgBouncer  # here: that module imports this one

    if not ON_POSTGRESQL:
        raise RuntimeError("PgBouncer fronts PostgreSQL: mark the test postgresql")
    bouncer = PgBouncer(TEST_DATABASE_URL).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(
    params=["direct", pytest.param("pgbouncer", marks=pytest.mark.postgresql)],
)
def pooler(request: pytest.FixtureRequest) -> PgBouncer | None:
    """How the service reaches the database: directly, or through PgBouncer."""
    if request.param == "direct":
        return None
    bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
    return bouncer

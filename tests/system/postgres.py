"""PostgreSQL processes a system test starts itself: PgBouncer in front of the test database,
and a primary with a streaming hot standby made with initdb, pg_ctl and pg_basebackup.

Each runs as the ``postgres`` user when the tests run as root (initdb and PgBouncer refuse
root), in a temporary folder that user owns, on free loopback ports; ``stop`` ends what
``start`` began, and the fixtures call it in their finalisers.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.system.conftest import free_port


def postgres_bin(program: str) -> str:
    """A PostgreSQL server program (initdb, pg_ctl, pgbouncer, ...): Debian's newest
    version folder first (so pg_basebackup matches the server), then /usr/sbin, the PATH."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    folders = [*versions, "/usr/sbin"]
    found = shutil.which(program, path=os.pathsep.join(folders)) or shutil.which(program)
    if found is None:
        raise RuntimeError(f"{program} is not installed (Debian: postgresql)")
    return found


def _version(folder: str) -> list[int]:
    return [int(part) for part in re.findall(r"\d+", folder)]


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def owned_folder(prefix: str) -> Path:
    """A new temporary folder that the user the servers run as owns."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    return folder


def _run(command: list[str], timeout: float = 120) -> None:
    done = subprocess.run(
        _as_postgres(command), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stdout}{done.stderr}")


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.OperationalError):
            psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2
            ).close()
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


class PgBouncer:
    """PgBouncer in transaction pooling mode, on a free port, in front of one server.

    Any database name is passed through (``* =``); clients are trusted and must be named in
    the auth file, as PgBouncer requires. ``server_round_robin = 0`` (the default) reuses
    the server connection freed last, which the prepared-statement test relies on."""

    def __init__(self, server_url: str, pool_size: int = 8):
        url = make_url(server_url)
        self.server_host = url.host or "127.0.0.1"
        self.server_port = url.port or 5432
        self.user = url.username or "postgres"
        self.pool_size = pool_size
        self.port = free_port()
        self.folder = owned_folder("psam-pgbouncer-")
        self.proc: subprocess.Popen[bytes] | None = None

    def url_for(self, database_url: str) -> str:
        """The same database, reached through this PgBouncer."""
        url = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    def start(self) -> PgBouncer:
        _write(self.folder / "users.txt", f'"{self.user}" ""\n')
        _write(
            self.folder / "pgbouncer.ini",
            f"""[databases]
* = host={self.server_host} port={self.server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.folder / "users.txt"}
pool_mode = transaction
default_pool_size = {self.pool_size}
max_client_conn = 1000
server_round_robin = 0
ignore_startup_parameters = extra_float_digits
logfile = {self.folder / "pgbouncer.log"}
pidfile = {self.folder / "pgbouncer.pid"}
""",
        )
        self.proc = subprocess.Popen(
            _as_postgres([postgres_bin("pgbouncer"), str(self.folder / "pgbouncer.ini")]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            pidfile = self.folder / "pgbouncer.pid"
            with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)  # PgBouncer itself
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


class Cluster:
    """One PostgreSQL server (initdb'd here, or a standby copied from a primary)."""

    def __init__(self, folder: Path, port: int):
        self.folder = folder
        self.data = folder / "data"
        self.port = port

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def primary(cls) -> Cluster:
        """A new primary that allows streaming replication from loopback."""
        cluster = cls(owned_folder("psam-primary-"), free_port())
        _run(
            [
                postgres_bin("initdb"),
                "-D",
                str(cluster.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )
        with (cluster.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                "wal_level = replica\nmax_wal_senders = 4\nfsync = off\n"
                "listen_addresses = '127.0.0.1'\nmax_connections = 40\n"
            )
        with (cluster.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        return cluster

    def standby(self) -> Cluster:
        """A hot standby of this (running) primary: pg_basebackup -R, streaming its WAL."""
        copy = Cluster(owned_folder("psam-standby-"), free_port())
        _run(
            [
                postgres_bin("pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-D",
                str(copy.data),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ]
        )
        return copy

    def start(self) -> Cluster:
        _run(
            [
                postgres_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                f"-p {self.port} -k {self.folder}",
                "-l",
                str(self.folder / "server.log"),
                "-w",
                "start",
            ]
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            _run([postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)

    def log_text(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

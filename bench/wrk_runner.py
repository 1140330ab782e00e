"""Driving ``wrk`` (a C load generator: it leaves the two cores to the servers) with
``bench/wrk.lua``, and reading its one-line summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.fixtures import asked_versions
from bench.load import Server, cpu_seconds

SCRIPT = Path(__file__).with_name("wrk.lua")


@dataclass
class Turns:
    """Several wrk turns against one server, added up; CPU is the server's workers'."""

    requests: int = 0
    sent: int = 0
    unexpected: int = 0
    socket_errors: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    db_cpu_seconds: float = 0.0
    p50s_ms: tuple[float, ...] = ()
    p99s_ms: tuple[float, ...] = ()
    offset: int = 0

    @property
    def done(self) -> int:
        return self.requests - self.unexpected

    @property
    def errors(self) -> int:
        return self.unexpected + self.socket_errors

    @property
    def rps(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def cpu_ms(self, seconds: float) -> float:
        """CPU per request the server was sent (those wrk left unanswered at the end of a
        turn cost the server too, and the CPU is read once the server is idle again)."""
        return round(seconds * 1000 / self.sent, 3) if self.sent else 0.0

    @property
    def p50_ms(self) -> float:
        """The median turn's median (wrk keeps percentiles per run, not mergeable)."""
        ordered = sorted(self.p50s_ms)
        return round(ordered[len(ordered) // 2], 1) if ordered else 0.0

    @property
    def p99_ms(self) -> float:
        """The worst turn's p99."""
        return round(max(self.p99s_ms), 1) if self.p99s_ms else 0.0


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    return found


def settle(workers: list[int], longest: float = 30.0) -> None:
    """Wait until the workers are idle: the requests still queued when wrk stopped are this
    turn's work, not the next one's."""
    deadline, last = time.monotonic() + longest, cpu_seconds(workers)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = cpu_seconds(workers)
        if now - last < 0.01:
            return
        last = now


def turn(
    server: Server,
    into: Turns,
    *,
    mode: str,
    seconds: float,
    connections: int,
    lines: Path | None = None,
    expect: int = 201,
    backends: list[int] | None = None,
) -> None:
    """One wrk run of ``seconds`` against ``server``, added to ``into``; ``backends`` are the
    server's database backends, whose CPU is counted too."""
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_OFFSET": str(into.offset),
        "BENCH_EXPECT": str(expect),
        "BENCH_PHQ9_VERSION": asked_versions()["phq-9"],
        "BENCH_GAD7_VERSION": asked_versions()["gad-7"],
        "BENCH_LINES": str(lines or ""),
    }
    workers, databases = server.workers(), backends or []
    cpu, db_cpu = cpu_seconds(workers), cpu_seconds(databases)
    out = subprocess.run(
        [
            require_wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(SCRIPT),
            f"http://127.0.0.1:{server.port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    settle(workers)
    into.cpu_seconds += cpu_seconds(workers) - cpu
    into.db_cpu_seconds += cpu_seconds(databases) - db_cpu
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    found = json.loads(line[4:])
    into.sent += found["next_offset"] - into.offset
    into.requests += found["requests"]
    into.unexpected += found["unexpected"]
    into.socket_errors += found["socket_errors"]
    into.seconds += found["duration_us"] / 1e6
    into.p50s_ms += (found["p50_us"] / 1000,)
    into.p99s_ms += (found["p99_us"] / 1000,)
    into.offset = found["next_offset"]

"""A small asyncio HTTP/1.1 load generator (keep-alive connections) and a gunicorn launcher."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.config import PROJECT_ROOT

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class LoadResult:
    done: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def add(self, other: LoadResult) -> None:
        """Count another run's requests and time as part of this one."""
        self.done += other.done
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies_ms.extend(other.latencies_ms)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0


async def _connection(
    port: int, requests: Iterator[Request], stop_at: float, result: LoadResult, ok: set[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop_at:
            try:
                request = next(requests)
            except StopIteration:
                return
            body = b"" if request.body is None else json.dumps(request.body).encode()
            head = f"{request.method} {request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            started = time.perf_counter()
            try:
                status, close = await _exchange(reader, writer, head.encode() + body)
            except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
                status, close = 0, True  # the server dropped the connection: an error, go on
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            if status in ok:
                result.done += 1
            else:
                result.errors += 1
            if close:
                writer.close()
                reader, writer = await _reconnect(port, stop_at, result)
    finally:
        writer.close()


async def _reconnect(
    port: int, stop_at: float, result: LoadResult
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A new connection; a refused one counts as an error and is tried again shortly."""
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            result.errors += 1
            if time.monotonic() >= stop_at:
                raise
            await asyncio.sleep(0.05)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """Send one request, read its answer: the status, and whether the server will close."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    length, close = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and "close" in value.lower():
            close = True
    await reader.readexactly(length)
    return int(status_line.split()[1]), close


def run_load(
    port: int, requests: Iterator[Request], *, connections: int, seconds: float, ok: set[int]
) -> LoadResult:
    """Drive ``connections`` keep-alive clients for ``seconds`` (or until requests run out)."""
    result = LoadResult(0, 0, 0.0, [])

    async def main() -> None:
        stop_at = time.monotonic() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(_connection(port, requests, stop_at, result, ok) for _ in range(connections))
        )
        result.seconds = time.perf_counter() - started

    asyncio.run(main())
    return result


def run_open_loop(
    port: int, requests: Iterator[Request], *, rate: float, seconds: float, ok: set[int]
) -> LoadResult:
    """Send at a fixed arrival rate (open loop), whatever the server's pace: request ``i`` is
    due at ``i / rate`` seconds, and its latency runs from then, not from when a connection
    was free to send it, so a stall shows in the latency of every request it delays."""
    result = LoadResult(0, 0, 0.0, [])
    due: asyncio.Queue[tuple[float, Request] | None] = asyncio.Queue()
    connections = 64  # more than rate x latency ever needs below saturation

    async def schedule(started: float) -> None:
        for i in range(int(rate * seconds)):
            at = started + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await due.put((at, next(requests)))
        for _ in range(connections):
            await due.put(None)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await due.get()) is not None:
                at, request = item
                body = b"" if request.body is None else json.dumps(request.body).encode()
                head = f"{request.method} {request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                try:
                    status, close = await _exchange(reader, writer, head.encode() + body)
                except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
                    status, close = 0, True
                result.latencies_ms.append((time.perf_counter() - at) * 1000)
                if status in ok:
                    result.done += 1
                else:
                    result.errors += 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    async def main() -> None:
        started = time.perf_counter() + 0.2  # the connections open first
        await asyncio.gather(schedule(started), *(connection() for _ in range(connections)))
        result.seconds = time.perf_counter() - started

    asyncio.run(main())
    return result


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (dead ones count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


class Server:
    """gunicorn with the project's settings, serving ``app`` on a port; ``code`` runs another
    checkout of the project (an earlier commit, for a before and after in one run)."""

    def __init__(
        self,
        app: str,
        port: int,
        env: dict[str, str],
        *,
        code: Path = PROJECT_ROOT,
        options: tuple[str, ...] = (),
    ):
        self.app, self.port, self.env, self.code, self.options = app, port, env, code, options
        self.proc: subprocess.Popen[bytes] | None = None

    def workers(self) -> list[int]:
        """The worker processes' ids (the master does no request work)."""
        assert self.proc is not None
        found = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                "/dev/null",
                # No recycling during a run: a recycled worker's CPU time would be lost.
                "--max-requests",
                "0",
                *self.options,
                self.app,
            ],
            cwd=self.code,
            env={**os.environ, "PYTHONPATH": f"{self.code}:{PROJECT_ROOT}", **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.app} did not start")

    def __exit__(self, *_: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=60)

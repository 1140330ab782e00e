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


class Server:
    """gunicorn with the project's settings, serving ``app`` on a port."""

    def __init__(self, app: str, port: int, env: dict[str, str]):
        self.app, self.port, self.env = app, port, env
        self.proc: subprocess.Popen[bytes] | None = None

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
                self.app,
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env},
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

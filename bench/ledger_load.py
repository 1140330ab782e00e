"""Concurrent appends to the consent log through the service's own ledger code.

Used by the concurrency tests (which check the chain) and by bench_ledger.py (which prints
appends per second).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

from service.db import make_engine
from service.domain.crypto import Keyring
from service.services.keyring import load_keyring_file
from service.services.ledger import LedgerWriter

EVENT = {"type": "consent", "study_id": "PSAM-00000000-0", "actor": {"kind": "load"}}


def append_many(url: str, keyring: Keyring, count: int, writer_id: int) -> None:
    """One writer: ``count`` appends, each its own transaction, as a request would be."""
    engine = make_engine(url)
    try:
        from sqlalchemy.orm import sessionmaker

        sessions = sessionmaker(engine)
        for n in range(count):
            with sessions() as session:
                writer = LedgerWriter(session, keyring, 100)
                writer.lock("consent")
                writer.append("consent", {**EVENT, "writer": writer_id, "n": n})
                session.commit()
    finally:
        engine.dispose()


def run_threads(url: str, keyring: Keyring, threads: int, each: int) -> float:
    """Appends from ``threads`` threads at once; returns the seconds taken."""
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            append_many(url, keyring, each, i)
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def _process(url: str, keyring_path: str, each: int, writer_id: int, ready: Any, go: Any) -> None:
    keyring = load_keyring_file(Path(keyring_path))
    ready.release()
    go.wait()
    append_many(url, keyring, each, writer_id)


def run_processes(url: str, keyring_path: str, processes: int, each: int) -> float:
    """Appends from ``processes`` separate processes at once; returns the seconds taken from
    the moment all have started (not counting interpreter start-up)."""
    context = multiprocessing.get_context("spawn")
    ready, go = context.Semaphore(0), context.Event()
    workers = [
        context.Process(target=_process, args=(url, keyring_path, each, i, ready, go))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        if not ready.acquire(timeout=120):
            raise RuntimeError("a writer process did not start")
    start = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join(timeout=600)
    elapsed = time.perf_counter() - start
    failed = [w.exitcode for w in workers if w.exitcode != 0]
    if failed:
        raise RuntimeError(f"writer processes failed with exit codes {failed}")
    return elapsed

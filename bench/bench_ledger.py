"""Appends per second to the consent log under concurrent writers.

Run: .venv/bin/python bench/bench_ledger.py [postgresql-url]
SQLite: 8 processes x 100 appends on a temporary file. PostgreSQL (when a URL is given, e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench, a database it will empty): 16
threads x 100 appends, then 16 processes x 100. Prints figures; never pass/fail.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from alembic import command

from bench.fixtures import fresh
from bench.ledger_load import run_processes, run_threads
from service.domain.crypto import Keyring
from service.migrate import alembic_config
from service.services.keyring import write_keyring_file


def report(label: str, appends: int, seconds: float) -> float:
    rate = appends / seconds
    print(f"{label:<40} {seconds:6.2f} s {rate:7.0f} appends/s")
    return round(rate)


def main(argv: list[str] | None = None) -> dict[str, float]:
    argv = sys.argv[1:] if argv is None else argv
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        keyring_path = Path(folder) / "keyring.json"
        keyring = Keyring.generate()
        write_keyring_file(keyring_path, keyring, create=True)

        sqlite_url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        command.upgrade(alembic_config(sqlite_url), "head")
        seconds = run_processes(sqlite_url, str(keyring_path), processes=8, each=100)
        figures["sqlite_8_processes"] = report("sqlite, 8 processes x 100 appends", 800, seconds)

        if argv:
            pg_url = argv[0]
            fresh(pg_url).dispose()
            seconds = run_threads(pg_url, keyring, threads=16, each=100)
            figures["postgresql_16_threads"] = report(
                "postgresql, 16 threads x 100 appends", 1600, seconds
            )
            # Threads share one interpreter lock; separate processes are what gunicorn runs.
            seconds = run_processes(pg_url, str(keyring_path), processes=16, each=100)
            figures["postgresql_16_processes"] = report(
                "postgresql, 16 processes x 100 appends", 1600, seconds
            )
    print(json.dumps({"appends_per_s": figures}))
    return figures


if __name__ == "__main__":
    main()

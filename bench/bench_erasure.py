"""How long the erasure purge holds its locks on PostgreSQL, by cohort size.

Run: .venv/bin/python -m bench.bench_erasure [postgresql-url] [participants] [responses-each]
(default postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench_erasure, a database it will
empty; 10,000 participants with 2 responses each; at most 3). Prints the time of ``VACUUM FULL
data_keys`` alone, of each table the purge rewrites, and of a whole purge after one erasure.
Prints figures; never pass/fail.
"""

from __future__ import annotations

import json
import sys
import time

from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from bench.fixtures import Cohort, fresh
from service.db import Database
from service.domain.crypto import Keyring
from service.models import DataKeyRecord, Response
from service.services.erasure import purge_erasures, rewritten_tables
from service.services.vault import shred_participant

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench_erasure"


def main(argv: list[str] | None = None) -> dict[str, float]:
    argv = sys.argv[1:] if argv is None else argv
    url = argv[0] if argv else DEFAULT_URL
    participants = int(argv[1]) if len(argv) > 1 else 10_000
    responses_each = int(argv[2]) if len(argv) > 2 else 2
    engine = fresh(url)
    people = Cohort(engine, Keyring.generate()).add(participants, responses_each)
    figures: dict[str, float] = {}
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        keys = conn.scalar(select(func.count()).select_from(DataKeyRecord))
        answers = conn.scalar(select(func.count()).select_from(Response))
        print(f"{keys} data keys, {answers} responses")
        for table in rewritten_tables():
            size = conn.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
            started = time.perf_counter()
            conn.exec_driver_sql(f'VACUUM FULL "{table}"')
            seconds = time.perf_counter() - started
            figures[f"vacuum_full_{table}_ms"] = round(seconds * 1000, 1)
            print(f"VACUUM FULL {table:<22} {seconds * 1000:8.1f} ms  ({size // 1024} KiB)")
    engine.dispose()
    database = Database(url)
    with sessionmaker(database.engine)() as session:
        shred_participant(session, people[0][0])
        session.commit()
    report = purge_erasures(database, 30)
    assert report.purged == [people[0][0]], report
    figures["purge_after_one_erasure_ms"] = round(report.seconds * 1000, 1)
    print(f"whole purge after one erasure       {report.seconds * 1000:8.1f} ms")
    database.engine.dispose()
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()

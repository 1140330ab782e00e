"""Concurrent writers never fork or break the chain: gapless seq, every link, verify ok."""

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from bench.ledger_load import run_processes, run_threads
from service.db import get_db
from service.models import ConsentLogEntry, LedgerCheckpoint
from service.services.keyring import KeyringSource
from service.services.ledger import verify_stored_log


def check_chain(app: Flask, expected: int) -> None:
    keyring = KeyringSource(app.config["PSAM_KEYRING"]).current()
    with get_db().sessionmaker() as session:
        seqs = session.scalars(select(ConsentLogEntry.seq).order_by(ConsentLogEntry.seq)).all()
        assert seqs == list(range(1, expected + 1))
        result = verify_stored_log(session, keyring, "consent")
        assert result.ok, result.problems[:5]
        assert result.length == expected
        checkpoints = session.scalar(select(func.count()).select_from(LedgerCheckpoint))
        assert checkpoints == expected // 100


@pytest.mark.postgresql
def test_sixteen_threads_appending_on_postgresql_keep_every_link(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = fresh_app("psam_concurrency_test")
    with app.app_context():
        keyring = KeyringSource(app.config["PSAM_KEYRING"]).current()
        seconds = run_threads(app.config["DATABASE_URL"], keyring, threads=16, each=100)
        check_chain(app, 1600)
    print(f"postgresql: 1600 appends by 16 threads in {seconds:.2f} s")


def test_eight_processes_appending_on_sqlite_keep_every_link(
    fresh_app: Callable[..., Flask],
) -> None:
    app = fresh_app("psam_sqlite_concurrency", sqlite=True)  # on both CI runs: it is SQLite's
    with app.app_context():
        url = app.config["DATABASE_URL"]
        seconds = run_processes(url, app.config["PSAM_KEYRING"], processes=8, each=100)
        check_chain(app, 800)
    print(f"sqlite: 800 appends by 8 processes in {seconds:.2f} s")

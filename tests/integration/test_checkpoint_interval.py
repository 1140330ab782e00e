"""Checkpoints by time: no entry stays unsigned much longer than PSAM_CHECKPOINT_INTERVAL,
however few entries the log holds, whether the next append or the cron command signs it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import get_db, utcnow
from service.models import LedgerCheckpoint
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter, checkpoint_if_due, verify_stored_log

HOUR = 3600


def append(session: Session, keys: KeyringSource, count: int, interval: int = HOUR) -> None:
    writer = LedgerWriter(
        session, keys.current(), checkpoint_every=100, checkpoint_interval=interval
    )
    writer.lock("consent")
    for n in range(count):
        writer.append("consent", {"type": "consent", "study_id": None, "n": n})
    session.commit()


def signed_lengths(session: Session) -> list[int]:
    query = select(LedgerCheckpoint.length).where(LedgerCheckpoint.log == "consent")
    return sorted(session.scalars(query))


def test_a_log_of_twelve_entries_is_signed_once_its_oldest_entry_has_waited_an_hour(
    session: Session, keys: KeyringSource
) -> None:
    append(session, keys, 12)
    assert signed_lengths(session) == []
    soon = utcnow() + dt.timedelta(minutes=59)
    assert checkpoint_if_due(session, keys.current(), "consent", HOUR, soon) is None
    later = utcnow() + dt.timedelta(hours=1, seconds=1)
    made = checkpoint_if_due(session, keys.current(), "consent", HOUR, later)
    assert made is not None and made.length == 12
    assert signed_lengths(session) == [12]
    # Nothing has been added since: nothing to sign, however late it is.
    assert checkpoint_if_due(session, keys.current(), "consent", HOUR, later) is None
    result = verify_stored_log(session, keys.current(), "consent")
    assert result.ok and result.unsigned_entries == 0


def test_an_append_after_the_interval_signs_the_head(session: Session, keys: KeyringSource) -> None:
    append(session, keys, 1, interval=1)
    assert signed_lengths(session) == []
    time.sleep(1.05)
    append(session, keys, 1, interval=1)
    assert signed_lengths(session) == [2]


def test_a_zero_interval_signs_by_count_only(session: Session, keys: KeyringSource) -> None:
    append(session, keys, 3, interval=0)
    far = utcnow() + dt.timedelta(days=30)
    assert checkpoint_if_due(session, keys.current(), "consent", 0, far) is None
    assert signed_lengths(session) == []


def test_the_cron_command_signs_only_when_due(fresh_app: Callable[[str], Flask]) -> None:
    app = fresh_app("psam_checkpoint_cron")
    app.config["PSAM_CHECKPOINT_INTERVAL"] = 1
    with app.app_context(), get_db().sessionmaker() as session:
        append(session, KeyringSource(app.config["PSAM_KEYRING"]), 3, interval=1)
    runner = app.test_cli_runner()
    early = runner.invoke(args=["audit", "checkpoint", "--if-due", "--log", "consent"])
    assert early.exit_code == 0 and "consent: no checkpoint due" in early.output
    time.sleep(1.05)
    due = runner.invoke(args=["audit", "checkpoint", "--if-due", "--log", "consent"])
    assert due.exit_code == 0 and "consent: checkpoint at length 3" in due.output
    again = runner.invoke(args=["audit", "checkpoint", "--if-due", "--log", "consent"])
    assert "consent: no checkpoint due" in again.output

"""After an erasure, nothing of the participant's is left in the live database files.

The raw bytes read are the SQLite file and its WAL (read while the app's connections are
open, so no closing checkpoint tidies up first), or on PostgreSQL every file of the database's
directory under ``base/`` (which holds each table's ``pg_relation_filepath``) after a
CHECKPOINT. Each ciphertext, the wrapped data key and the plain values that would say
something about the person (their site, their alert's row) are found there before the erasure
and gone after it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, make_url, select, text

from service.db import Base, get_db
from service.models import (
    AccessLogEntry,
    Alert,
    ConsentLogEntry,
    DataKeyRecord,
    IdempotencyRecord,
    IdentityValue,
    Participant,
    Response,
)
from service.resources import get_keys
from service.services.catalogue import sync_definitions
from service.services.definitions import load_definitions
from service.services.ledger import verify_stored_log
from service.services.tokens import create_staff_token
from tests.conftest import INSTRUMENTS, shipped_version, valid_signature

# Item 9 raises the urgent alert; the total (16) stays under 20, so PHQ-9 1.1.0's routine
# "phq9_severe" alert is not raised too: one alert under either protocol.
PHQ9_ITEM9 = {f"phq9_{i}": 2 for i in range(1, 8)} | {"phq9_8": 1, "phq9_9": 1, "phq9_10": 2}


class Person:
    """A participant walked through the service, with every kind of stored value."""

    def __init__(self, app: Flask, n: int):
        with app.app_context(), get_db().sessionmaker() as session:
            staff = create_staff_token(session, ["researcher"], "erasure test")[1]
        self.client: FlaskClient = app.test_client()
        self.researcher = {"Authorization": f"Bearer {staff}"}
        self.site = f"CANARY-SITE-{n}"
        contact = {"name": f"Erasable Name {n}", "email": f"erasable{n}@example.org"}
        made = self.client.post(
            "/api/v1/participants",
            json={"contact": contact, "site": self.site},
            headers=self.researcher,
        ).get_json()
        self.study_id: str = made["study_id"]
        self.me = {"Authorization": f"Bearer {made['token']}"}
        signed = self.client.post(
            "/api/v1/me/consent", json=valid_signature(self.client), headers=self.me
        )
        assert signed.status_code == 201
        submit = {
            "instrument": "phq-9",
            "version": shipped_version("phq-9"),
            "timepoint": "baseline",
            "answers": PHQ9_ITEM9,
            "submit": True,
        }
        keyed = {**self.me, "Idempotency-Key": f"erasure-phq9-{n}"}
        submitted = self.client.post("/api/v1/me/responses", json=submit, headers=keyed)
        assert submitted.status_code == 201
        alerts = [
            a
            for a in self.client.get("/api/v1/alerts", headers=self.researcher).get_json()["alerts"]
            if a["study_id"] == self.study_id
        ]
        assert [a["rule"] for a in alerts] == ["phq9_item9"]
        acked = self.client.post(
            f"/api/v1/alerts/{alerts[0]['id']}/ack",
            json={"note": f"Rang them back {n}"},
            headers=self.researcher,
        )
        assert acked.status_code == 200

    def erase(self, key: str | None = None) -> None:
        keyed = self.me if key is None else {**self.me, "Idempotency-Key": key}
        erased = self.client.post(
            "/api/v1/me/withdrawal", json={"scope": "stop-and-erase"}, headers=keyed
        )
        assert erased.status_code == 201


def secrets_of(engine: Engine, study_id: str) -> dict[str, list[bytes]]:
    """What must leave the files, as stored: ciphertexts, the wrapped key, plain tell-tales."""
    found: dict[str, list[bytes]] = {}
    with engine.connect() as conn:
        columns = [
            (DataKeyRecord.wrapped, DataKeyRecord.study_id),
            (IdentityValue.value, IdentityValue.study_id),
            (Response.answers, Response.study_id),
            (Response.scores, Response.study_id),
            (Alert.note, Alert.study_id),
            (IdempotencyRecord.body, IdempotencyRecord.study_id),
        ]
        for column, owner in columns:
            values = conn.scalars(select(column).where(owner == study_id)).all()
            found[f"{column.class_.__tablename__}.{column.key}"] = [bytes(v) for v in values if v]
        alert_ids = conn.scalars(select(Alert.id).where(Alert.study_id == study_id)).all()
    # The alert's row says rule "phq9_item9" beside the study ID: its id finds the row, as
    # text (SQLite) or as 16 bytes (PostgreSQL's uuid).
    sqlite = engine.dialect.name == "sqlite"
    found["alerts.id"] = [i.hex.encode() if sqlite else i.bytes for i in alert_ids]
    return found


def database_files(app: Flask) -> bytes:
    """The raw bytes of every live file of the app's database."""
    url = make_url(app.config["DATABASE_URL"])
    engine = app.extensions["psam_db"].engine
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or "")
        files = [database, database.with_name(database.name + "-wal")]
        return b"".join(p.read_bytes() for p in files if p.exists())
    with engine.connect() as conn:
        conn.execute(text("CHECKPOINT"))  # dirty pages reach the files
        data_directory = Path(conn.scalar(text("SHOW data_directory")))
        keys_file = data_directory / conn.scalar(text("SELECT pg_relation_filepath('data_keys')"))
        oid = conn.scalar(text("SELECT oid FROM pg_database WHERE datname = current_database()"))
    folder = data_directory / "base" / str(oid)
    assert keys_file.parent == folder, "the table files are where the test reads"
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


def found_in(raw: bytes, secrets: dict[str, list[bytes]]) -> dict[str, int]:
    return {name: sum(value in raw for value in values) for name, values in secrets.items()}


def published(app: Flask) -> Flask:
    with app.app_context(), get_db().sessionmaker() as session:
        sync_definitions(session, load_definitions(INSTRUMENTS))
    return app


def test_an_erasure_leaves_no_key_ciphertext_or_tell_tale_in_the_database_files(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = published(fresh_app("psam_erasure_files"))
    # Time for a transaction of another database on the same server (which holds back what
    # a rewrite may drop) to end: the purge waits for it rather than stay pending.
    app.config["PSAM_PURGE_WAIT_SECONDS"] = 60
    erased, kept = Person(app, 1), Person(app, 2)
    engine = app.extensions["psam_db"].engine
    secrets = secrets_of(engine, erased.study_id)
    secrets["participants.site"] = [erased.site.encode()]
    assert all(len(values) >= 1 for values in secrets.values()), secrets
    before = found_in(database_files(app), secrets)
    assert before == {name: len(values) for name, values in secrets.items()}

    erased.erase()

    raw = database_files(app)
    assert found_in(raw, secrets) == dict.fromkeys(secrets, 0)
    # The other participant's data is untouched, and was read from the same bytes.
    assert all(found_in(raw, secrets_of(engine, kept.study_id)).values())
    assert kept.site.encode() in raw
    with app.app_context(), get_db().sessionmaker() as session:
        tombstone = session.scalars(
            select(Participant).where(Participant.study_id == erased.study_id)
        ).one()
        assert tombstone.site is None
        assert tombstone.erased_at is not None and tombstone.purged_at is not None


def test_a_purge_that_did_not_run_is_completed_by_the_purge_command(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = published(fresh_app("psam_erasure_missed"))
    app.config["PSAM_PURGE_WAIT_SECONDS"] = 0
    person = Person(app, 3)
    engine = app.extensions["psam_db"].engine
    secrets = secrets_of(engine, person.study_id)
    # A reader holding a snapshot from before the erasure stops the purge the request runs
    # (as a crash between the commit and the purge would): the erasure stays pending.
    reading = engine.execution_options(psam_read_only=True, isolation_level="REPEATABLE READ")
    if engine.dialect.name == "sqlite":  # its reads are snapshots already, deferred BEGIN
        reading = engine.execution_options(psam_read_only=True)
    with reading.connect() as reader, reader.begin():
        reader.execute(select(DataKeyRecord.wrapped)).all()  # its snapshot starts here
        person.erase()
        with app.app_context(), get_db().sessionmaker() as session:
            tombstone = session.scalars(
                select(Participant).where(Participant.study_id == person.study_id)
            ).one()
            assert tombstone.erased_at is not None and tombstone.purged_at is None
        assert sum(found_in(database_files(app), secrets).values()) > 0
    first: Result = app.test_cli_runner().invoke(args=["erasure", "purge", "--wait-seconds", "5"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("1 purged, 0 pending")
    assert found_in(database_files(app), secrets) == dict.fromkeys(secrets, 0)
    again = app.test_cli_runner().invoke(args=["erasure", "purge"])
    assert again.exit_code == 0 and again.output.startswith("0 purged, 0 pending")


def test_what_survives_an_erasure_is_the_tombstone_tokens_receipt_and_log_entries(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = published(fresh_app("psam_erasure_survivors"))
    person = Person(app, 4)
    person.erase(key="erase-4")
    with app.app_context(), get_db().sessionmaker() as session:
        left = {
            table.name: session.scalar(
                select(text("count(*)"))
                .select_from(table)
                .where(table.c.study_id == person.study_id)
            )
            for table in Base.metadata.sorted_tables
            if "study_id" in table.c
        }
        assert {name for name, count in left.items() if count} == {
            "participants",  # the tombstone: study ID, enrolment and erasure times
            "participant_tokens",  # revoked, hashes only: a retry is recognised by them
            "erasure_receipts",  # the withdrawal's receipt, replayed to a retry
            "consent_log",  # consent and withdrawal events: clauses and a commitment
            "access_log",  # staff actions, named by token id
        }
        logged = [
            json.loads(event)
            for model in (ConsentLogEntry, AccessLogEntry)
            for event in session.scalars(
                select(model.event).where(model.study_id == person.study_id)
            )
        ]
        text_of_logs = json.dumps(logged)
        # No health fact and no identifier in the append-only logs: no alert rule, no count
        # of alerts for this person, no site, no name.
        for tell_tale in ("phq9", "item9", person.site, "Erasable Name", "example.org"):
            assert tell_tale not in text_of_logs
        assert [e["action"] for e in logged if e["type"] == "access"] == ["participant.enrol"]
        keyring = get_keys().current()
        for log in ("consent", "access"):
            assert verify_stored_log(session, keyring, log).ok


def test_an_alert_acknowledgement_is_logged_by_alert_id_without_the_study_id(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = published(fresh_app("psam_erasure_ack"))
    Person(app, 5)
    with app.app_context(), get_db().sessionmaker() as session:
        events = [
            json.loads(e)
            for e in session.scalars(
                select(AccessLogEntry.event).where(AccessLogEntry.type == "access")
            )
        ]
    (ack,) = [e for e in events if e["action"] == "alert.ack"]
    assert ack["study_id"] is None
    assert uuid.UUID(ack["filters"]["alert"])

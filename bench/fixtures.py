"""Building benchmark data fast: straight into the tables, encrypted as the service would."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import uuid
from typing import Any

from alembic import command
from sqlalchemy import create_engine, insert, make_url, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from service.config import PROJECT_ROOT
from service.db import make_engine, utcnow
from service.domain.canonical import canonical_json
from service.domain.crypto import FieldContext, Keyring, encrypt_field, new_data_key
from service.domain.instruments import Instrument
from service.domain.ledger import Entry, link
from service.domain.protocol import protocol_in_force
from service.domain.pseudonyms import new_study_id
from service.domain.tokens import TokenKind, generate_token, hash_token, token_hint
from service.migrate import alembic_config
from service.models import (
    ConsentLogEntry,
    DataKeyRecord,
    Participant,
    ParticipantToken,
    Response,
)
from service.services.catalogue import sync_definitions
from service.services.definitions import load_definitions
from service.services.tokens import create_staff_token

TIMEPOINTS = ("baseline", "month-3", "month-6")


@functools.cache
def asked_versions() -> dict[str, str]:
    """The baseline versions the shipped protocol in force today asks for: the bench submits
    what a participant's task asks, so it keeps working past an amendment's day."""
    definitions = load_definitions(PROJECT_ROOT / "instruments")
    protocol = protocol_in_force(definitions.protocols, dt.datetime.now(dt.UTC).date())
    assert protocol is not None, "no protocol in force"
    return dict(protocol.timepoints[0].instruments)


def fresh(url: str) -> Engine:
    """An empty, migrated database with the catalogue synced."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    with sessionmaker(engine)() as session:
        sync_definitions(session, load_definitions(PROJECT_ROOT / "instruments"))
    return engine


def staff_token(engine: Engine, role: str) -> str:
    with sessionmaker(engine)() as session:
        return create_staff_token(session, [role], f"bench {role}")[1]


def instruments() -> dict[str, Instrument]:
    return {i.id: i for i in load_definitions(PROJECT_ROOT / "instruments").instruments}


class Cohort:
    """Consented participants (with tokens) and, optionally, stored responses."""

    def __init__(self, engine: Engine, keyring: Keyring):
        self.engine = engine
        self.keyring = keyring
        self.catalogue = instruments()
        self.previous: Entry | None = None
        with engine.connect() as conn:
            last = conn.execute(
                select(ConsentLogEntry).order_by(ConsentLogEntry.seq.desc()).limit(1)
            ).first()
        if last is not None:
            import json

            self.previous = Entry(last.seq, last.prev_hash, last.hash, json.loads(last.event))

    def add(self, count: int, responses_each: int = 0) -> list[tuple[str, str]]:
        """``count`` consented participants; returns (study ID, participant token) pairs."""
        consent = self.catalogue["consent"]
        phq9 = self.catalogue["phq-9"]
        people: list[tuple[str, str]] = []
        now = utcnow()
        with self.engine.begin() as conn:
            for start in range(0, count, 1000):
                rows: dict[str, list[dict[str, Any]]] = {
                    "p": [],
                    "k": [],
                    "e": [],
                    "t": [],
                    "r": [],
                }
                for _ in range(min(1000, count - start)):
                    sid, dek = new_study_id(), new_data_key()
                    token = generate_token(TokenKind.PARTICIPANT)
                    people.append((sid, token))
                    rows["p"].append({"id": uuid.uuid4(), "study_id": sid, "enrolled_at": now})
                    rows["k"].append(
                        {
                            "study_id": sid,
                            "kek_id": self.keyring.primary.id,
                            "created_at": now,
                            "wrapped": self.keyring.wrap_data_key(dek, sid),
                        }
                    )
                    rows["t"].append(
                        {
                            "id": uuid.uuid4(),
                            "study_id": sid,
                            "token_sha256": hash_token(token),
                            "hint": token_hint(token),
                            "created_at": now,
                        }
                    )
                    seq = 1 if self.previous is None else self.previous.seq + 1
                    event = {
                        "type": "consent",
                        "study_id": sid,
                        "log": "consent",
                        "seq": seq,
                        "form": {
                            "id": consent.id,
                            "version": consent.version,
                            "sha256": consent.sha256,
                        },
                        "clauses": {c.id: True for c in consent.items},
                        "commitment": secrets.token_hex(32),
                        "actor": {"kind": "bench"},
                        "recorded_at": now.isoformat(),
                    }
                    self.previous = link(self.previous, event)
                    rows["e"].append(
                        {
                            "seq": seq,
                            "prev_hash": self.previous.prev_hash,
                            "hash": self.previous.hash,
                            "event": canonical_json(event).decode(),
                            "type": "consent",
                            "study_id": sid,
                            "recorded_at": now,
                        }
                    )
                    for timepoint in TIMEPOINTS[:responses_each]:
                        rid = uuid.uuid4()
                        answers = {f"phq9_{i}": secrets.randbelow(4) for i in range(1, 10)}
                        scores = [
                            {
                                "id": "phq9_total",
                                "label": "PHQ-9 total score",
                                "value": sum(answers.values()),
                                "band": "x",
                                "participant_visible": True,
                            }
                        ]
                        rows["r"].append(
                            {
                                "id": rid,
                                "study_id": sid,
                                "timepoint": timepoint,
                                "instrument_id": "phq-9",
                                "version": "1.0.0",
                                "instrument_hash": phq9.sha256,
                                "status": "submitted",
                                "answers": encrypt_field(
                                    dek,
                                    answers,
                                    FieldContext("responses", "answers", str(rid), sid),
                                ),
                                "scores": encrypt_field(
                                    dek, scores, FieldContext("responses", "scores", str(rid), sid)
                                ),
                                "started_at": now,
                                "updated_at": now,
                                "submitted_at": now,
                            }
                        )
                conn.execute(insert(Participant), rows["p"])
                conn.execute(insert(DataKeyRecord), rows["k"])
                conn.execute(insert(ParticipantToken), rows["t"])
                conn.execute(insert(ConsentLogEntry), rows["e"])
                if rows["r"]:
                    conn.execute(insert(Response), rows["r"])
        self.analyze()
        return people

    def analyze(self) -> None:
        """Give the planner statistics, as a database in use would have after a bulk load."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))

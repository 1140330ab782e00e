"""Recordings and transcripts in the raw database files: the retention job takes a
recording's chunks out of the files and leaves its transcript's; an erasure takes both, with
the interview's row, and frees its slot.

The files read are those of ``test_erasure_files`` (the SQLite file and its WAL, or every
file of the PostgreSQL database after a CHECKPOINT). A sealed chunk is looked for by a slice
of its nonce and first ciphertext bytes: both engines store a large value in pieces (SQLite's
overflow pages, PostgreSQL's TOAST chunks), and a chunk's first bytes stay together.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import DBAPIError

from service.db import get_db, utcnow
from service.domain.errors import ConflictError
from service.domain.tokens import TokenKind
from service.models import AccessLogEntry, Interview, InterviewChunk, InterviewFile, InterviewSlot
from service.resources import get_keys, trail_of
from service.services.recordings import store_file
from service.services.tokens import Principal, create_staff_token
from tests.conftest import consented_participant
from tests.integration.test_erasure_files import database_files
from tests.interviews import put_audio, put_transcript

AUDIO = (b"AUDIO-PLAINTEXT-CANARY " * 12_000)[: 3 * 64 * 1024 + 77]
TEXT = "Interviewer: and then?\nP: TRANSCRIPT-PLAINTEXT-CANARY, the group was there.\n"


class Recorded:
    """A consented participant with a scheduled interview (in a slot), its recording and
    its transcript, on an app whose writes commit."""

    def __init__(self, app: Flask):
        self.app = app
        self.client: FlaskClient
        self.client, self.study_id, token = consented_participant(app)
        self.me = {"Authorization": f"Bearer {token}"}
        with app.app_context(), get_db().sessionmaker() as session:
            staff, secret = create_staff_token(session, ["researcher"], "recordings test")
            slot = InterviewSlot(
                id=uuid.uuid4(),
                starts_at=utcnow(),
                minutes=60,
                mode="phone",
                interviewer_id=staff.id,
                created_at=utcnow(),
                cancelled_at=None,
            )
            session.add(slot)
            session.flush()
            row = Interview(
                id=uuid.uuid4(),
                study_id=self.study_id,
                status="scheduled",
                channel="phone",
                invited_by=staff.id,
                invited_at=utcnow(),
                updated_at=utcnow(),
                slot_id=slot.id,
                cancel_reason=None,
            )
            session.add(row)
            session.commit()
            self.slot_id, self.interview = slot.id, str(row.id)
        self.researcher = {"Authorization": f"Bearer {secret}"}
        assert put_audio(self.client, self.researcher, self.interview, AUDIO).status_code == 201
        assert put_transcript(self.client, self.researcher, self.interview, TEXT).status_code == 201

    def verified_long_ago(self) -> None:
        """Move the transcript's verification back past the retention period."""
        days = self.app.config["PSAM_AUDIO_RETENTION_DAYS"]
        with self.app.app_context(), get_db().sessionmaker() as session:
            session.execute(
                update(InterviewFile)
                .where(InterviewFile.kind == "transcript")
                .values(verified_at=utcnow() - dt.timedelta(days=days, minutes=1))
            )
            session.commit()

    @property
    def engine(self) -> Engine:
        return self.app.extensions["psam_db"].engine

    def slices(self, kind: str) -> list[bytes]:
        """A slice of each of the file's sealed chunks (nonce and first ciphertext bytes)."""
        with self.engine.connect() as conn:
            records = conn.scalars(
                select(InterviewChunk.data)
                .join(InterviewFile, InterviewFile.id == InterviewChunk.file_id)
                .where(
                    InterviewFile.interview_id == uuid.UUID(self.interview),
                    InterviewFile.kind == kind,
                )
            ).all()
        return [bytes(record)[14:62] for record in records]


def present(raw: bytes, slices: list[bytes]) -> int:
    return sum(piece in raw for piece in slices)


def test_the_retention_job_takes_the_recording_out_of_the_files_and_keeps_the_transcript(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = fresh_app("psam_recording_retention")
    # Long enough for a transaction of another database on the same server to end.
    app.config["PSAM_PURGE_WAIT_SECONDS"] = 60
    person = Recorded(app)
    audio, transcript = person.slices("audio"), person.slices("transcript")
    assert len(audio) == 4 and len(transcript) == 1
    raw = database_files(app)
    assert present(raw, audio) == 4 and present(raw, transcript) == 1
    assert b"AUDIO-PLAINTEXT-CANARY" not in raw and b"TRANSCRIPT-PLAINTEXT-CANARY" not in raw

    client, researcher, interview = person.client, person.researcher, person.interview
    runner = app.test_cli_runner()
    assert runner.invoke(args=["recordings", "destroy-expired"]).output.startswith("0 recordings")
    verified = client.post(f"/api/v1/interviews/{interview}/transcript/verify", headers=researcher)
    assert verified.status_code == 200
    # Verified today: not yet due.
    assert runner.invoke(args=["recordings", "destroy-expired"]).output.startswith("0 recordings")
    person.verified_long_ago()

    result = runner.invoke(args=["recordings", "destroy-expired"])
    assert result.exit_code == 0, result.output
    assert result.output == "1 recordings destroyed\n"

    raw = database_files(app)
    assert present(raw, audio) == 0
    assert present(raw, transcript) == 1
    gone = client.get(f"/api/v1/interviews/{interview}/audio", headers=researcher)
    assert gone.status_code == 404 and "destroyed" in gone.get_json()["detail"]
    kept = client.get(f"/api/v1/interviews/{interview}/transcript", headers=researcher)
    assert kept.get_data(as_text=True) == TEXT
    again = put_audio(client, researcher, interview, b"a new recording")
    assert again.status_code == 409
    with app.app_context(), get_db().sessionmaker() as session:
        row = session.scalars(select(InterviewFile).where(InterviewFile.kind == "audio")).one()
        assert row.destroyed_at is not None and row.bytes == len(AUDIO)
        actions = [e.event for e in session.scalars(select(AccessLogEntry))]
        assert sum('"interview.audio.destroy"' in event for event in actions) == 1


def test_an_erasure_takes_recording_transcript_and_interview_out_of_the_files(
    fresh_app: Callable[[str], Flask],
) -> None:
    app = fresh_app("psam_recording_erasure")
    app.config["PSAM_PURGE_WAIT_SECONDS"] = 60
    erased, kept = Recorded(app), Recorded(app)
    gone = erased.slices("audio") + erased.slices("transcript")
    stays = kept.slices("audio") + kept.slices("transcript")
    sqlite = erased.engine.dialect.name == "sqlite"
    interview_id = uuid.UUID(erased.interview)
    interview_bytes = interview_id.hex.encode() if sqlite else interview_id.bytes
    raw = database_files(app)
    assert present(raw, gone) == len(gone) == 5 and interview_bytes in raw

    withdrawn = erased.client.post(
        "/api/v1/me/withdrawal", json={"scope": "stop-and-erase"}, headers=erased.me
    )
    assert withdrawn.status_code == 201

    raw = database_files(app)
    assert present(raw, gone) == 0
    assert interview_bytes not in raw
    assert present(raw, stays) == len(stays)
    with app.app_context(), get_db().sessionmaker() as session:
        assert session.get(Interview, interview_id) is None
        assert not session.scalars(
            select(InterviewFile).where(InterviewFile.interview_id == interview_id)
        ).all()
        # The slot is still offered by the study, and no interview holds it now.
        assert session.get(InterviewSlot, erased.slot_id) is not None
        assert (
            session.scalars(select(Interview).where(Interview.slot_id == erased.slot_id)).first()
            is None
        )
    stop = kept.client.post("/api/v1/me/withdrawal", json={"scope": "stop"}, headers=kept.me)
    assert stop.status_code == 201  # "stop" keeps what was given
    kept_back = kept.client.get(
        f"/api/v1/interviews/{kept.interview}/transcript", headers=kept.researcher
    )
    assert kept_back.get_data(as_text=True) == TEXT


def test_a_rewrite_a_reader_put_off_is_retried_by_the_worker_until_it_is_done(
    fresh_app: Callable[[str], Flask],
) -> None:
    """The worker destroys a recording while another transaction reads the chunk table, so
    the files cannot be rewritten then; its next period asks for the rewrite again, with
    nothing new to destroy, and the recording's bytes leave the files."""
    from tests.integration.test_notifications import make_worker
    from tests.mailbox import Mailbox

    app = fresh_app("psam_recording_rewrite_retry")
    person = Recorded(app)
    audio = person.slices("audio")
    verified = person.client.post(
        f"/api/v1/interviews/{person.interview}/transcript/verify", headers=person.researcher
    )
    assert verified.status_code == 200
    person.verified_long_ago()
    mailbox = Mailbox().start()
    try:
        worker = make_worker(app, mailbox.url)
        with reading_chunks(person.engine):
            first = worker.run_pass(force_periodic=True).periodic
            assert "audio retention: 1 destroyed" in first
            assert worker.audio_rewrite_pending
        assert present(database_files(app), audio) > 0  # destroyed, but still in the files
        second = worker.run_pass(force_periodic=True).periodic
        assert "audio retention: 0 destroyed" in second
        assert not worker.audio_rewrite_pending
        assert present(database_files(app), audio) == 0
    finally:
        mailbox.stop()


@contextmanager
def reading_chunks(engine: Engine) -> Iterator[None]:
    """Another transaction reading the chunk table, open for the block: a plain read (the
    app's SQLite connections begin IMMEDIATE, which would lock out every writer)."""
    if engine.dialect.name == "sqlite":
        conn = sqlite3.connect(str(engine.url.database), isolation_level=None)
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT idx FROM interview_chunks LIMIT 1").fetchall()
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with engine.connect() as reader:
        reading = reader.begin()
        reader.execute(select(InterviewChunk.idx).limit(1)).all()
        try:
            yield
        finally:
            reading.rollback()


def store_audio(person: Recorded, who: Principal, body: Iterable[bytes]) -> object:
    """Store a recording through the service, in a session of its own: "stored", or the
    refusal (a ConflictError) or database error it raised."""
    with person.app.app_context(), get_db().sessionmaker() as session:
        try:
            store_file(
                session, get_keys(), trail_of(who), uuid.UUID(person.interview), "audio",
                "audio/ogg", body, 10**8,
            )  # fmt: skip
        except (ConflictError, DBAPIError) as exc:
            return exc
        return "stored"


def researcher_principal(app: Flask) -> Principal:
    with app.app_context(), get_db().sessionmaker() as session:
        staff, _ = create_staff_token(session, ["researcher"], "race")
        session.commit()
        return Principal(TokenKind.STAFF, staff.id, "race", frozenset({"researcher"}))


def held_body(data: bytes, gate: threading.Event, sent: threading.Event) -> Iterator[bytes]:
    """A streamed body: its first piece, then (once ``gate`` opens) the rest."""
    yield data[: 64 * 1024]
    sent.set()
    assert gate.wait(60), "the gate never opened"
    yield data[64 * 1024 :]


def test_two_uploads_of_one_recording_at_once_keep_one_whole_and_never_fail_inside(
    fresh_app: Callable[[str], Flask],
) -> None:
    """The second waits for the first; it then replaces it (SQLite, one writer at a time) or
    is refused with a conflict before its body is read (PostgreSQL): one recording, whole."""
    app = fresh_app("psam_recording_race")
    person = Recorded(app)
    first_body, second_body = b"FIRST " * 40_000, b"SECOND " * 30_000
    gate, sent = threading.Event(), threading.Event()
    who = researcher_principal(app)
    answers: dict[str, object] = {}

    def upload(name: str, body: Iterable[bytes]) -> None:
        answers[name] = store_audio(person, who, body)

    first = threading.Thread(target=upload, args=("first", held_body(first_body, gate, sent)))
    first.start()
    assert sent.wait(30), f"the first upload never began: {answers}"
    second = threading.Thread(target=upload, args=("second", iter([second_body])))
    second.start()
    time.sleep(1)  # the second is now waiting on the first
    assert "second" not in answers
    gate.set()
    first.join(60)
    second.join(60)
    assert answers["first"] == "stored"
    if answers["second"] != "stored":
        assert isinstance(answers["second"], ConflictError)
        assert "at the same moment" in str(answers["second"])
    kept = person.client.get(
        f"/api/v1/interviews/{person.interview}/audio", headers=person.researcher
    )
    assert kept.status_code == 200
    assert kept.get_data() == (second_body if answers["second"] == "stored" else first_body)


@pytest.mark.postgresql
@pytest.mark.parametrize("scope", ["stop", "stop-and-erase"])
def test_an_upload_and_a_withdrawal_of_one_participant_at_once_end_consistent_without_a_500(
    fresh_app: Callable[[str], Flask], scope: str
) -> None:
    """The upload holds the participant's row while its body streams, then takes the access
    log's lock to record itself. A "stop" takes the access log's lock first (it cancels open
    interviews), then waits for that row: PostgreSQL breaks the deadlock by undoing one, and
    a request undone is a 503 try-again. "stop-and-erase" waits for the row first, so the
    upload completes and is erased with the rest. Nothing is half-written either way."""
    app = fresh_app("psam_recording_deadlock")
    person = Recorded(app)
    who = researcher_principal(app)
    body = b"RACING " * 40_000
    gate, sent = threading.Event(), threading.Event()
    answers: dict[str, object] = {}

    def upload() -> None:
        answers["upload"] = store_audio(person, who, held_body(body, gate, sent))

    def withdraw() -> None:
        answers["withdraw"] = app.test_client().post(
            "/api/v1/me/withdrawal", json={"scope": scope}, headers=person.me
        )

    uploading = threading.Thread(target=upload)
    uploading.start()
    assert sent.wait(30), f"the upload never began: {answers}"
    withdrawing = threading.Thread(target=withdraw)
    withdrawing.start()
    time.sleep(1)  # the withdrawal now waits on the participant's row
    gate.set()
    uploading.join(60)
    withdrawing.join(60)
    withdrawn, stored = answers["withdraw"], answers["upload"]
    status = withdrawn.status_code  # type: ignore[attr-defined]
    assert status in (201, 503), withdrawn.get_data(as_text=True)  # type: ignore[attr-defined]
    if status == 503:  # the withdrawal was undone; the upload stands; sent again, it is made
        assert withdrawn.get_json()["type"] == "/api/v1/problems/try-again"  # type: ignore[attr-defined]
        assert stored == "stored"
        again = app.test_client().post(
            "/api/v1/me/withdrawal", json={"scope": scope}, headers=person.me
        )
        assert again.status_code == 201
    elif stored != "stored":  # the upload was undone: the recording before it stays whole
        assert isinstance(stored, DBAPIError) and stored.orig.sqlstate == "40P01"  # type: ignore[union-attr]
    with app.app_context(), get_db().sessionmaker() as session:
        files = session.scalars(select(InterviewFile).where(InterviewFile.kind == "audio")).all()
    if scope == "stop-and-erase":
        assert files == []
    else:
        kept = person.client.get(
            f"/api/v1/interviews/{person.interview}/audio", headers=person.researcher
        )
        assert kept.status_code == 200
        assert kept.get_data() == (body if stored == "stored" else AUDIO)

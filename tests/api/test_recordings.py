"""Interview recordings and transcripts through the API: streamed up and down, limited by
their own setting, gated by the consent in force, logged."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from service.models import AccessLogEntry, InterviewChunk, InterviewFile
from tests.interviews import consented, put_audio, put_transcript, scheduled_interview

Headers = dict[str, str]
# Larger than the app's body limit (256 KiB), several chunks, a partial last chunk.
RECORDING = os.urandom(5 * 64 * 1024 + 1234)
TRANSCRIPT = "Interviewer: How were the first weeks?\nP1: Hard. The group helped — a lot.\n"


@pytest.fixture
def researcher(auth: Callable[..., Headers]) -> Headers:
    return auth("researcher")


def stored_files(session: Session, interview: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(InterviewFile)
            .where(InterviewFile.interview_id == uuid.UUID(interview))
        )
        or 0
    )


def actions_since(connection: Connection, seq: int) -> list[str]:
    rows = connection.execute(
        select(AccessLogEntry.event).where(AccessLogEntry.seq > seq).order_by(AccessLogEntry.seq)
    )
    return [json.loads(event)["action"] for (event,) in rows]


def access_head(connection: Connection) -> int:
    return int(connection.scalar(select(func.coalesce(func.max(AccessLogEntry.seq), 0))) or 0)


def test_a_recording_goes_up_and_comes_back_byte_for_byte_and_both_are_logged(
    client: FlaskClient, session: Session, connection: Connection, researcher: Headers
) -> None:
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    before = access_head(connection)
    # Sent without a Content-Length, as a chunked upload reaches the app.
    up = client.put(
        f"/api/v1/interviews/{interview}/audio",
        input_stream=io.BytesIO(RECORDING),
        headers={**researcher, "Content-Type": "audio/ogg", "Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},
    )
    assert up.status_code == 201, up.get_json()
    sha = hashlib.sha256(RECORDING).hexdigest()
    assert up.get_json()["bytes"] == len(RECORDING) and up.get_json()["sha256"] == sha
    chunks = session.scalar(select(func.count()).select_from(InterviewChunk))
    assert chunks is not None and chunks >= 6
    raw = b"".join(session.scalars(select(InterviewChunk.data)))
    assert RECORDING[:4096] not in raw  # sealed, not stored in the clear

    # HEAD would open a snapshot its stream never closes: refused before anything is logged.
    head = client.head(f"/api/v1/interviews/{interview}/audio", headers=researcher)
    assert head.status_code == 405 and head.headers["Allow"] == "GET"
    down = client.get(f"/api/v1/interviews/{interview}/audio", headers=researcher)
    assert down.status_code == 200
    assert down.mimetype == "audio/ogg"
    assert down.data == RECORDING
    assert int(down.headers["Content-Length"]) == len(RECORDING)
    digest = base64.b64encode(bytes.fromhex(sha)).decode()
    assert down.headers["Repr-Digest"] == f"sha-256=:{digest}:"
    assert actions_since(connection, before) == ["interview.audio.upload", "interview.audio.read"]


def test_a_second_upload_replaces_the_first(
    client: FlaskClient, session: Session, researcher: Headers
) -> None:
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    assert put_audio(client, researcher, interview, b"first take").status_code == 201
    assert put_audio(client, researcher, interview, b"second take").status_code == 201
    assert stored_files(session, interview) == 1
    assert client.get(f"/api/v1/interviews/{interview}/audio", headers=researcher).data == (
        b"second take"
    )


def test_without_the_audio_clause_a_recording_is_refused_naming_the_clause(
    client: FlaskClient, session: Session, researcher: Headers
) -> None:
    study_id, _me = consented(client, researcher, off=("c_audio_recording",))
    interview = scheduled_interview(session, study_id)
    refused = put_audio(client, researcher, interview, b"not allowed")
    assert refused.status_code == 403
    body = refused.get_json()
    assert body["type"] == "/api/v1/problems/consent-clause-required"
    assert list(body["errors"]) == ["consent.c_audio_recording"]
    assert stored_files(session, interview) == 0


def test_after_no_further_contact_the_audio_clause_is_no_longer_in_force(
    client: FlaskClient, session: Session, researcher: Headers
) -> None:
    study_id, me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    assert put_audio(client, researcher, interview, b"allowed").status_code == 201
    withdrawn = client.post(
        "/api/v1/me/withdrawal", json={"scope": "no-further-contact"}, headers=me
    )
    assert withdrawn.status_code == 201
    refused = put_audio(client, researcher, interview, b"no longer")
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/api/v1/problems/consent-clause-required"


@pytest.mark.parametrize("status", ["cancelled", "declined"])
def test_a_cancelled_or_declined_interview_takes_no_recording(
    client: FlaskClient, session: Session, researcher: Headers, status: str
) -> None:
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id, status=status)
    refused = put_audio(client, researcher, interview, b"x")
    assert refused.status_code == 409
    assert status in refused.get_json()["detail"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_recording_over_its_own_limit_is_a_413_and_nothing_is_stored(
    app: Flask,
    client: FlaskClient,
    session: Session,
    researcher: Headers,
    monkeypatch: pytest.MonkeyPatch,
    chunked: bool,
) -> None:
    monkeypatch.setitem(app.config, "PSAM_AUDIO_MAX_BYTES", 300_000)
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    within = put_audio(client, researcher, interview, b"k" * 300_000)
    assert within.status_code == 201  # over the app's 256 KiB: this route has its own limit
    extra = {"Transfer-Encoding": "chunked"} if chunked else {}
    over = client.put(
        f"/api/v1/interviews/{interview}/audio",
        input_stream=io.BytesIO(b"o" * 300_001),
        content_length=None if chunked else 300_001,
        headers={**researcher, "Content-Type": "audio/ogg", **extra},
        environ_base={"wsgi.input_terminated": True} if chunked else {},
    )
    assert over.status_code == 413
    assert over.get_json()["type"] == "/api/v1/problems/payload-too-large"
    # The earlier recording stands, untouched: nothing of the refused one was kept.
    assert client.get(f"/api/v1/interviews/{interview}/audio", headers=researcher).data == (
        b"k" * 300_000
    )


def test_a_recording_must_be_sent_as_audio(
    client: FlaskClient, session: Session, researcher: Headers
) -> None:
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    refused = client.put(
        f"/api/v1/interviews/{interview}/audio", json={"not": "audio"}, headers=researcher
    )
    assert refused.status_code == 415
    too_long = client.put(
        f"/api/v1/interviews/{interview}/audio",
        data=b"x",
        headers={**researcher, "Content-Type": "audio/" + "x" * 200},
    )
    assert too_long.status_code == 415
    assert stored_files(session, interview) == 0


def test_an_unknown_interview_is_a_404(client: FlaskClient, researcher: Headers) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert put_audio(client, researcher, missing, b"x").status_code == 404
    assert client.get(f"/api/v1/interviews/{missing}/audio", headers=researcher).status_code == 404


def test_a_transcript_is_stored_read_back_and_verified(
    client: FlaskClient, session: Session, connection: Connection, researcher: Headers
) -> None:
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    before = access_head(connection)
    up = put_transcript(client, researcher, interview, TRANSCRIPT)
    assert up.status_code == 201
    assert up.get_json()["verified_at"] is None
    down = client.get(f"/api/v1/interviews/{interview}/transcript", headers=researcher)
    assert down.get_data(as_text=True) == TRANSCRIPT
    assert down.mimetype == "text/plain" and down.mimetype_params["charset"] == "utf-8"
    verified = client.post(f"/api/v1/interviews/{interview}/transcript/verify", headers=researcher)
    assert verified.status_code == 200
    assert verified.get_json()["verified_at"] is not None
    assert actions_since(connection, before) == [
        "interview.transcript.upload",
        "interview.transcript.read",
        "interview.transcript.verify",
    ]


def test_a_transcript_that_is_not_utf8_text_is_refused(
    client: FlaskClient, session: Session, researcher: Headers
) -> None:
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    not_utf8 = client.put(
        f"/api/v1/interviews/{interview}/transcript",
        data=b"caf\xe9",
        headers={**researcher, "Content-Type": "text/plain; charset=utf-8"},
    )
    assert not_utf8.status_code == 422
    assert list(not_utf8.get_json()["errors"]) == ["body"]
    as_latin1 = client.put(
        f"/api/v1/interviews/{interview}/transcript",
        data=b"cafe",
        headers={**researcher, "Content-Type": "text/plain; charset=latin-1"},
    )
    assert as_latin1.status_code == 415
    assert stored_files(session, interview) == 0


def test_verifying_a_missing_transcript_is_a_404(
    client: FlaskClient, session: Session, researcher: Headers
) -> None:
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    missing = client.post(f"/api/v1/interviews/{interview}/transcript/verify", headers=researcher)
    assert missing.status_code == 404

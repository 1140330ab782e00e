"""A recording altered in the database, as a superuser could, is refused whole on download.

Each case changes the stored chunk rows directly (swapped, dropped, the last one removed, a
bit flipped, one taken from another interview of the same participant, so under the same
data key); the download answers 409 with a problem body, and not one byte of the recording's
plaintext is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from service.models import InterviewChunk, InterviewFile
from tests.interviews import consented, put_audio, scheduled_interview

Headers = dict[str, str]
# Five chunks of 64 KiB and a short sixth, every one of them recognisable.
CANARY = b"PLAINTEXT-CANARY-"
RECORDING = (CANARY * 20_000)[: 5 * 64 * 1024 + 999]
OTHER = (b"another interview " * 20_000)[: 5 * 64 * 1024 + 999]


def file_id(connection: Connection, interview: str) -> uuid.UUID:
    return connection.scalars(
        select(InterviewFile.id).where(InterviewFile.interview_id == uuid.UUID(interview))
    ).one()


def chunk(connection: Connection, file: uuid.UUID, idx: int) -> bytes:
    return bytes(
        connection.scalars(
            select(InterviewChunk.data).where(
                InterviewChunk.file_id == file, InterviewChunk.idx == idx
            )
        ).one()
    )


def set_chunk(connection: Connection, file: uuid.UUID, idx: int, data: bytes) -> None:
    connection.execute(
        update(InterviewChunk)
        .where(InterviewChunk.file_id == file, InterviewChunk.idx == idx)
        .values(data=data)
    )


def swap(connection: Connection, file: uuid.UUID, _other: uuid.UUID) -> None:
    first, second = chunk(connection, file, 1), chunk(connection, file, 2)
    set_chunk(connection, file, 1, second)
    set_chunk(connection, file, 2, first)


def drop(connection: Connection, file: uuid.UUID, _other: uuid.UUID) -> None:
    connection.execute(
        delete(InterviewChunk).where(InterviewChunk.file_id == file, InterviewChunk.idx == 2)
    )


def truncate(connection: Connection, file: uuid.UUID, _other: uuid.UUID) -> None:
    last = connection.scalar(
        select(func.max(InterviewChunk.idx)).where(InterviewChunk.file_id == file)
    )
    connection.execute(
        delete(InterviewChunk).where(InterviewChunk.file_id == file, InterviewChunk.idx == last)
    )


def flip(connection: Connection, file: uuid.UUID, _other: uuid.UUID) -> None:
    data = bytearray(chunk(connection, file, 3))
    data[len(data) // 2] ^= 0x01
    set_chunk(connection, file, 3, bytes(data))


def transplant(connection: Connection, file: uuid.UUID, other: uuid.UUID) -> None:
    set_chunk(connection, file, 1, chunk(connection, other, 1))


@pytest.mark.parametrize(
    "tamper",
    [swap, drop, truncate, flip, transplant],
    ids=["swapped", "dropped", "truncated", "bit-flipped", "from-another-interview"],
)
def test_a_tampered_recording_is_refused_with_no_plaintext_sent(
    client: FlaskClient,
    session: Session,
    connection: Connection,
    auth: Callable[..., Headers],
    tamper: Callable[[Connection, uuid.UUID, uuid.UUID], None],
) -> None:
    researcher = auth("researcher")
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    another = scheduled_interview(session, study_id)
    assert put_audio(client, researcher, interview, RECORDING).status_code == 201
    assert put_audio(client, researcher, another, OTHER).status_code == 201
    intact = client.get(f"/api/v1/interviews/{interview}/audio", headers=researcher)
    assert intact.data == RECORDING

    tamper(connection, file_id(connection, interview), file_id(connection, another))

    refused = client.get(f"/api/v1/interviews/{interview}/audio", headers=researcher)
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["type"] == "/api/v1/problems/integrity-check-failed"
    assert "nothing of it was sent" in body["detail"]
    assert CANARY not in refused.data
    assert b"another interview" not in refused.data
    # The other interview's recording is untouched.
    assert client.get(f"/api/v1/interviews/{another}/audio", headers=researcher).data == OTHER


def test_a_size_or_hash_that_no_longer_matches_the_upload_is_refused(
    client: FlaskClient, session: Session, connection: Connection, auth: Callable[..., Headers]
) -> None:
    researcher = auth("researcher")
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id)
    assert put_audio(client, researcher, interview, RECORDING).status_code == 201
    connection.execute(
        update(InterviewFile)
        .where(InterviewFile.interview_id == uuid.UUID(interview))
        .values(sha256="0" * 64)
    )
    refused = client.get(f"/api/v1/interviews/{interview}/audio", headers=researcher)
    assert refused.status_code == 409
    assert CANARY not in refused.data

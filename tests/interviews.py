"""Interviews for the recordings tests: a consented participant and a scheduled interview
row, inserted directly (the invitation flow is tested on its own)."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.db import utcnow
from service.models import Interview
from tests.conftest import valid_signature

Headers = dict[str, str]


def consented(
    client: FlaskClient, researcher: Headers, *, off: tuple[str, ...] = ()
) -> tuple[str, Headers]:
    """Enrol a participant and sign the form in force agreeing to every clause but ``off``.
    Their study ID and their headers."""
    made = client.post("/api/v1/participants", json={}, headers=researcher).get_json()
    me = {"Authorization": f"Bearer {made['token']}"}
    body = valid_signature(client)
    clauses = dict(body["clauses"])  # type: ignore[call-overload]
    body["clauses"] = {k: (k not in off) for k in clauses}
    signed = client.post("/api/v1/me/consent", json=body, headers=me)
    assert signed.status_code == 201, signed.get_json()
    return made["study_id"], me


def scheduled_interview(session: Session, study_id: str, status: str = "scheduled") -> str:
    """An interview row for the participant, as the invitation flow leaves it."""
    now = utcnow()
    row = Interview(
        id=uuid.uuid4(),
        study_id=study_id,
        status=status,
        channel="phone",
        invited_by=None,
        invited_at=now,
        updated_at=now,
        slot_id=None,
        cancel_reason=None,
    )
    session.add(row)
    session.commit()
    return str(row.id)


def put_audio(client: FlaskClient, researcher: Headers, interview: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/v1/interviews/{interview}/audio",
        data=data,
        headers={**researcher, "Content-Type": "audio/ogg"},
    )


def put_transcript(client: FlaskClient, researcher: Headers, interview: str, text: str):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/v1/interviews/{interview}/transcript",
        data=text.encode("utf-8"),
        headers={**researcher, "Content-Type": "text/plain; charset=utf-8"},
    )

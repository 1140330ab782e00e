"""The quotes export: verified transcripts, only of participants whose consent includes
anonymised quotes, under pseudonyms drawn for each export; a manifest and the access log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from service.models import AccessLogEntry
from tests.interviews import consented, put_transcript, scheduled_interview

Headers = dict[str, str]


def transcript_for(
    client: FlaskClient,
    session: Session,
    researcher: Headers,
    text: str,
    *,
    off: tuple[str, ...] = (),
    verify: bool = True,
) -> str:
    study_id, _me = consented(client, researcher, off=off)
    interview = scheduled_interview(session, study_id, status="done")
    assert put_transcript(client, researcher, interview, text).status_code == 201
    if verify:
        verified = client.post(
            f"/api/v1/interviews/{interview}/transcript/verify", headers=researcher
        )
        assert verified.status_code == 200
    return study_id


def lines(client: FlaskClient, analyst: Headers) -> tuple[list[dict], str, bytes]:
    response = client.get("/api/v1/exports/quotes", headers=analyst)
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    data = response.get_data()
    return [json.loads(line) for line in data.splitlines()], response.headers["X-Export-Id"], data


def test_only_verified_transcripts_of_those_who_agreed_to_quotes_go_out(
    client: FlaskClient,
    session: Session,
    connection: Connection,
    auth: Callable[..., Headers],
) -> None:
    researcher, analyst = auth("researcher"), auth("analyst")
    agreed = transcript_for(client, session, researcher, "Agreed: the group was a lifeline.")
    declined = transcript_for(
        client, session, researcher, "Declined: not for quoting.", off=("c_anonymised_quotes",)
    )
    unverified = transcript_for(client, session, researcher, "Unverified: names.", verify=False)
    before = int(connection.scalar(select(func.max(AccessLogEntry.seq))) or 0)

    first, export_id, data = lines(client, analyst)
    texts = [row["transcript"] for row in first]
    assert "Agreed: the group was a lifeline." in texts
    assert "Declined: not for quoting." not in texts
    assert "Unverified: names." not in texts
    for study_id in (agreed, declined, unverified):
        assert study_id.encode() not in data
    row = next(r for r in first if r["transcript"].startswith("Agreed"))
    assert row["participant"].startswith("PQ-")

    second, _second_id, _data = lines(client, analyst)
    again = next(r for r in second if r["transcript"].startswith("Agreed"))
    assert again["participant"] != row["participant"]  # drawn anew for each export

    manifest = client.get(f"/api/v1/exports/{export_id}", headers=analyst).get_json()
    assert manifest["status"] == "complete"
    assert manifest["filters"]["kind"] == "quotes"
    assert manifest["row_count"] == len(first)
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    events = [
        json.loads(e)
        for e in connection.scalars(
            select(AccessLogEntry.event)
            .where(AccessLogEntry.seq > before)
            .order_by(AccessLogEntry.seq)
        )
    ]
    assert [e["action"] for e in events][:2] == ["export.quotes.start", "export.quotes"]
    assert events[1]["rows"] == len(first)


def test_a_participant_who_withdrew_quotes_by_erasure_is_not_exported(
    client: FlaskClient, session: Session, auth: Callable[..., Headers]
) -> None:
    researcher, analyst = auth("researcher"), auth("analyst")
    study_id = transcript_for(client, session, researcher, "Erased: gone with everything.")
    erased = client.post(
        f"/api/v1/participants/{study_id}/withdrawal",
        json={"scope": "stop-and-erase"},
        headers=researcher,
    )
    assert erased.status_code == 201
    rows, _id, _data = lines(client, analyst)
    assert "Erased: gone with everything." not in [r["transcript"] for r in rows]


def test_the_quotes_export_is_for_analysts_only(
    client: FlaskClient, auth: Callable[..., Headers]
) -> None:
    assert client.get("/api/v1/exports/quotes", headers=auth("researcher")).status_code == 403

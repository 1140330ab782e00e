"""A token's label is free text that may hold a person's name: it must reach no immutable log.

Tokens labelled with a canary act through the API and the command line; then the raw rows
of the consent log, the access log and the export manifests are searched for it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from service.logs import JsonFormatter
from service.services.tokens import create_staff_token
from tests.conftest import valid_signature

CANARY = "Canary Jane Doe 7731"
LEDGER_TABLES = ("consent_log", "access_log", "export_manifests")


def rows_text(connection: Connection, table: str) -> str:
    rows = connection.execute(text(f"SELECT * FROM {table}")).all()  # names from LEDGER_TABLES
    assert rows, f"{table} is empty: the test did not exercise it"
    return "\n".join(repr(tuple(row)) for row in rows)


@pytest.fixture
def app_log() -> Iterator[io.StringIO]:
    """The service's structured log lines, as they would go to stdout."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("service")
    logger.addHandler(handler)
    try:
        yield captured
    finally:
        logger.removeHandler(handler)


def test_a_token_label_reaches_no_ledger_table_manifest_or_app_log(
    app: Flask,
    client: FlaskClient,
    connection: Connection,
    session: Session,
    tmp_path: Path,
    app_log: io.StringIO,
) -> None:
    _row, admin_token = create_staff_token(session, ["admin"], f"{CANARY} admin")
    admin = {"Authorization": f"Bearer {admin_token}"}
    created = client.post(
        "/api/v1/tokens", json={"label": CANARY, "roles": ["researcher", "analyst"]}, headers=admin
    ).get_json()
    staff = {"Authorization": f"Bearer {created['token']}"}
    runner = app.test_cli_runner()
    made = runner.invoke(args=["tokens", "create", "--role", "auditor", "--label", CANARY])
    assert made.exit_code == 0, made.output
    auditor = {"Authorization": f"Bearer {made.output.strip().splitlines()[-1]}"}

    enrolled = client.post("/api/v1/participants", json={}, headers=staff).get_json()
    own = {"Authorization": f"Bearer {enrolled['token']}"}
    assert client.post("/api/v1/me/consent", json=valid_signature(client), headers=own).status_code
    study_id = enrolled["study_id"]
    withdrawn = client.post(
        f"/api/v1/participants/{study_id}/withdrawal", json={"scope": "stop"}, headers=staff
    )
    assert withdrawn.status_code == 201
    exported = client.get("/api/v1/exports/responses?instrument=phq-9", headers=staff)
    exported.get_data()
    assert client.get("/api/v1/exports", headers=staff).status_code == 200
    assert client.get("/api/v1/audit/access-log", headers=auditor).status_code == 200
    assert client.get("/api/v1/tokens", headers=admin).get_json()["tokens"]
    cli_export = ["export", "responses", "--instrument", "phq-9", "--out", str(tmp_path / "x")]
    assert runner.invoke(args=cli_export).exit_code == 0
    assert client.post(f"/api/v1/tokens/{created['id']}/revoke", headers=admin).status_code == 200
    assert runner.invoke(args=["tokens", "revoke", created["id"]]).exit_code == 0

    assert CANARY in rows_text(connection, "staff_tokens")  # the canary was really planted
    for table in LEDGER_TABLES:
        assert CANARY not in rows_text(connection, table), table
    assert CANARY not in app_log.getvalue()

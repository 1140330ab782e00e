"""Every command that reads or changes participant data or access writes exactly one
access-log event naming the command; the others are listed with the reason they write none.

The table is checked against the app's command groups: a new command without a row fails
``test_the_trail_table_covers_every_command``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from flask import Flask
from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from service import create_app
from service.config import config_for_tests
from service.db import utcnow
from service.models import AccessLogEntry, InterviewFile
from service.services.keyring import KeyringSource
from service.services.keys import add_primary_kek, rewrap_data_keys
from service.services.participants import enrol_participant
from service.services.tokens import create_staff_token
from tests.api.test_access_trail import a_failed_message as failed_message_id
from tests.interviews import consented, put_audio, put_transcript, scheduled_interview

CANARY = "Canary Jane Doe 7731"

# Commands that write no access-log event, and why (docs/access-log.md says the same).
NOT_LOGGED = {
    "db upgrade": "schema only; may run before the access log exists",
    "db downgrade": "schema only; downgrading past the ledgers removes the log itself",
    "db current": "shows a revision: no participant data, no access",
    "keys status": "KEK ids, states and counts of data keys: no participant data, no access",
    "audit checkpoint": "signs the log as it is; logging it would grow the log it signs",
    "instruments import-fhir": "reads a Questionnaire file, writes a draft file: no data",
    "erasure purge": "finishes erasures the consent log already holds; runs from cron each minute",
    "worker": "sends queued messages (each one's outcome is its outbox row) and runs the two "
    "jobs above",
    "openapi print": "flask-smorest's: the API description, no data",
    "openapi write": "flask-smorest's: the API description, no data",
    "openapi list-config-prefixes": "flask-smorest's: configuration names, no data",
}


def new_instrument_version(folder: Path) -> Path:
    """A copy of the instruments with a PHQ-9 1.0.1 that was never published."""
    source = folder / "phq-9" / "1.0.0.json"
    definition = json.loads(source.read_text())
    definition["version"] = "1.0.1"
    (folder / "phq-9" / "1.0.1.json").write_text(json.dumps(definition))
    return folder


@pytest.fixture
def own_keyring(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KeyringSource:
    """A copy of the app's keyring for this test, so key commands leave the suite's alone."""
    copy = tmp_path / "keyring.json"
    shutil.copy2(app.config["PSAM_KEYRING"], copy)
    source = KeyringSource(str(copy))
    monkeypatch.setitem(app.extensions, "psam_keys", source)
    return source


# command -> (arguments after the command, given what the setup made; expected actions)
Setup = Callable[[Flask, Session, Path], list[str]]


def nothing(_app: Flask, _session: Session, _tmp: Path) -> list[str]:
    return []


def a_token_to_revoke(_app: Flask, session: Session, _tmp: Path) -> list[str]:
    return [str(create_staff_token(session, ["analyst"], CANARY)[0].id)]


def instruments_to_sync(_app: Flask, _session: Session, tmp: Path) -> list[str]:
    folder = tmp / "instruments"
    shutil.copytree(Path(__file__).parents[2] / "instruments", folder)
    return ["--directory", str(new_instrument_version(folder))]


def a_keyring_to_create(app: Flask, _session: Session, tmp: Path) -> list[str]:
    app.extensions["psam_keys"] = KeyringSource(str(tmp / "new" / "keyring.json"))
    (tmp / "new").mkdir()
    return []


def some_data_keys(app: Flask, session: Session, _tmp: Path) -> list[str]:
    for _ in range(3):
        enrol_participant(session, app.extensions["psam_keys"])
    session.commit()
    return []


def in_batches_of_one(app: Flask, session: Session, tmp: Path) -> list[str]:
    """Three data keys re-wrapped in three transactions: still one event."""
    some_data_keys(app, session, tmp)
    return ["--batch-size", "1"]


def half_rotated(app: Flask, session: Session, tmp: Path) -> list[str]:
    add_primary_kek(app.extensions["psam_keys"])
    return in_batches_of_one(app, session, tmp)


def an_unused_kek(app: Flask, session: Session, tmp: Path) -> list[str]:
    keys = app.extensions["psam_keys"]
    some_data_keys(app, session, tmp)
    old = keys.current().primary.id
    add_primary_kek(keys)
    with app.app_context():
        rewrap_data_keys(app.extensions["psam_db"].sessionmaker, keys)
    return [old]


def an_out_file(_app: Flask, _session: Session, tmp: Path) -> list[str]:
    return ["--out", str(tmp / "out")]


def a_failed_message(_app: Flask, session: Session, _tmp: Path) -> list[str]:
    return [failed_message_id(session)]


def a_phq9_export(_app: Flask, _session: Session, tmp: Path) -> list[str]:
    return ["--instrument", "phq-9", "--out", str(tmp / "phq-9.csv")]


def a_recording_past_retention(app: Flask, session: Session, _tmp: Path) -> list[str]:
    """A recording whose transcript was verified longer ago than the retention period."""
    client = app.test_client()
    researcher = {"Authorization": f"Bearer {create_staff_token(session, ['researcher'], 'r')[1]}"}
    study_id, _me = consented(client, researcher)
    interview = scheduled_interview(session, study_id, status="done")
    assert put_audio(client, researcher, interview, b"a recording").status_code == 201
    assert put_transcript(client, researcher, interview, "a transcript").status_code == 201
    days = app.config["PSAM_AUDIO_RETENTION_DAYS"] + 1
    session.execute(
        update(InterviewFile)
        .where(InterviewFile.interview_id == uuid.UUID(interview))
        .values(verified_at=utcnow() - dt.timedelta(days=days))
    )
    session.commit()
    return []


TABLE: dict[str, tuple[Setup, tuple[str, ...]]] = {
    "recordings destroy-expired": (a_recording_past_retention, ("interview.audio.destroy",)),
    "instruments sync": (instruments_to_sync, ("instruments.sync",)),
    "tokens create": (
        lambda *_: ["--role", "analyst", "--label", CANARY],
        ("token.create",),
    ),
    "tokens list": (nothing, ("token.list",)),
    "tokens revoke": (a_token_to_revoke, ("token.revoke",)),
    "tokens bootstrap-admin": (nothing, ("token.create",)),
    "keys init": (a_keyring_to_create, ("keys.init",)),
    "keys rotate": (in_batches_of_one, ("keys.rotate",)),
    "keys rewrap": (half_rotated, ("keys.rewrap",)),
    "keys retire": (an_unused_kek, ("keys.retire",)),
    "audit verify": (nothing, ("audit.verify",)),
    "audit export": (an_out_file, ("audit.consent-log.export",)),
    "export responses": (a_phq9_export, ("export.responses.start", "export.responses")),
    "notifications list": (nothing, ("notifications.list",)),
    "notifications retry": (a_failed_message, ("notifications.retry",)),
}


def every_command(app: Flask) -> set[str]:
    found = set()
    for name, group in app.cli.commands.items():
        if isinstance(group, click.Group):
            found |= {f"{name} {sub}" for sub in group.commands}
        else:  # a command of its own (the worker)
            found.add(name)
    return found


def access_head(connection: Connection) -> int:
    return int(connection.execute(select(func.coalesce(func.max(AccessLogEntry.seq), 0))).scalar())


def test_the_trail_table_covers_every_command(app: Flask) -> None:
    assert every_command(app) == set(TABLE) | set(NOT_LOGGED)
    assert not set(TABLE) & set(NOT_LOGGED)


@pytest.mark.parametrize("command", sorted(TABLE))
def test_a_command_adds_exactly_its_access_log_event_naming_the_command(
    app: Flask,
    connection: Connection,
    session: Session,
    own_keyring: KeyringSource,
    tmp_path: Path,
    command: str,
) -> None:
    setup, expected = TABLE[command]
    arguments = setup(app, session, tmp_path)
    before = access_head(connection)
    result = app.test_cli_runner().invoke(args=[*command.split(), *arguments])
    assert result.exit_code == 0, result.output
    added = [
        json.loads(event)
        for (event,) in connection.execute(
            select(AccessLogEntry.event)
            .where(AccessLogEntry.seq > before)
            .order_by(AccessLogEntry.seq)
        )
    ]
    assert [event["action"] for event in added] == list(expected)
    for event in added:
        assert event["actor"] == {"kind": "cli", "command": command}
        assert CANARY not in json.dumps(event)


def test_commands_that_find_nothing_to_do_write_nothing(
    app: Flask, connection: Connection, session: Session, own_keyring: KeyringSource
) -> None:
    create_staff_token(session, ["admin"], CANARY)
    before = access_head(connection)
    runner = app.test_cli_runner()
    assert "none created" in runner.invoke(args=["tokens", "bootstrap-admin"]).output
    assert "0 added" in runner.invoke(args=["instruments", "sync"]).output
    assert "left as it is" in runner.invoke(args=["keys", "init", "--if-missing"]).output
    assert access_head(connection) == before


def test_keys_init_before_the_database_exists_creates_the_keyring_and_no_database(
    tmp_path: Path,
) -> None:
    database = tmp_path / "not-yet.sqlite3"
    fresh = create_app(config_for_tests(f"sqlite:///{database}", str(tmp_path / "instance")))
    try:
        result = fresh.test_cli_runner().invoke(args=["keys", "init"])
        assert result.exit_code == 0, result.output
        assert "no database yet" in result.output
        assert Path(fresh.config["PSAM_KEYRING"]).exists()
        assert not database.exists()
    finally:
        fresh.extensions["psam_db"].engine.dispose()

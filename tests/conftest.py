"""Shared fixtures: one migrated database per run, a savepoint rolled back per test.

The database is SQLite in a temporary folder unless TEST_DATABASE_URL names another
(CI runs the suite a second time with PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import URL, Connection, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from service import create_app
from service.config import PROJECT_ROOT, config_for_tests
from service.db import Database, get_db
from service.domain.crypto import Keyring
from service.domain.protocol import protocol_in_force
from service.migrate import alembic_config
from service.services.catalogue import Catalogue, sync_definitions
from service.services.definitions import load_definitions
from service.services.keyring import KeyringSource, write_keyring_file
from service.services.participants import enrol_participant
from service.services.tokens import create_staff_token, issue_participant_token

ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
# Under pytest-xdist each worker has a PostgreSQL database of its own, named after the one
# given (``test`` -> ``test_gw0``), so workers never reset each other's tables; the
# databases a test makes for itself are named after that one in turn.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
TEST_DATABASE_URL = (
    make_url(os.environ["TEST_DATABASE_URL"])
    .set(database=f"{make_url(os.environ['TEST_DATABASE_URL']).database}_{_WORKER}")
    .render_as_string(hide_password=False)
    if ON_POSTGRESQL and _WORKER
    else os.environ.get("TEST_DATABASE_URL", "")
)
INSTRUMENTS = PROJECT_ROOT / "instruments"
# Run the suite as if the day that chooses the protocol in force were another, e.g. past an
# amendment's effective_from (PSAM_TEST_PROTOCOL_DAY=2027-02-01): a test that assumes one
# protocol's versions instead of reading them from the task list fails then, not on that day.
PROTOCOL_DAY = os.environ.get("PSAM_TEST_PROTOCOL_DAY")
# The definitions shipped: the six questionnaires and the consent form of version 1.0.0, and
# the follow-up questionnaire that protocol amendment 1.1 adds.
SHIPPED_IDS = frozenset(
    {"phq-9", "gad-7", "pcl-5", "epds", "peer-support", "about-you", "follow-up", "consent"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRESQL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only: set TEST_DATABASE_URL to a PostgreSQL URL")
    for item in items:
        if "postgresql" in item.keywords:
            item.add_marker(skip)


def fresh_database(name: str, tmp_dir: Path, *, sqlite: bool = False) -> str:
    """An empty database of the kind under test (a new SQLite file, or a new PostgreSQL
    database), or a SQLite file whatever the kind when ``sqlite`` is set."""
    if sqlite or not ON_POSTGRESQL:
        path = tmp_dir / f"{name}.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = make_url(TEST_DATABASE_URL)
    # Named after the suite's database, so two runs on two databases of one server (two
    # checkouts, say) never drop each other's.
    return _create_database(url.set(database=f"{url.database}_{name}"))


def _create_database(url: URL) -> str:
    """A new, empty PostgreSQL database at ``url`` (dropped first if it exists)."""
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def _reset_postgresql(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The suite's database, migrated to head once for the run."""
    if ON_POSTGRESQL and _WORKER:
        url = _create_database(make_url(TEST_DATABASE_URL))
    elif ON_POSTGRESQL:
        url = TEST_DATABASE_URL
        _reset_postgresql(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'suite.sqlite3'}"
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    settings = config_for_tests(database_url, str(tmp_path_factory.mktemp("instance")))
    write_keyring_file(Path(settings["PSAM_KEYRING"]), Keyring.generate(), create=True)
    application = create_app(settings)
    db: Database = application.extensions["psam_db"]
    with db.sessionmaker() as session:
        report = sync_definitions(session, load_definitions(INSTRUMENTS))
        assert not report.refused
    yield application
    db.engine.dispose()


@pytest.fixture
def connection(app: Flask) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test.

    The app's sessions join it through savepoints, so a service's commit is real to the
    code under test and gone for the next test.
    """
    db: Database = app.extensions["psam_db"]
    conn = db.engine.connect()
    outer = conn.begin()
    original = db.sessionmaker, db.read_sessionmaker
    db.sessionmaker = db.read_sessionmaker = sessionmaker(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield conn
    finally:
        db.sessionmaker, db.read_sessionmaker = original
        outer.rollback()
        conn.close()


@pytest.fixture
def session(app: Flask, connection: Connection) -> Iterator[Session]:
    db: Database = app.extensions["psam_db"]
    with db.sessionmaker() as s:
        yield s


@pytest.fixture
def client(app: Flask, connection: Connection) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_token(session: Session, keys: KeyringSource) -> Callable[..., str]:
    """Issue a token inside the test's transaction: staff roles, or "participant" for the
    token of a newly enrolled participant."""

    def make(*roles: str, expires_days: int | None = None) -> str:
        if roles == ("participant",):
            person = enrol_participant(session, keys)
            token = issue_participant_token(session, person.study_id)
            session.commit()
            return token
        return create_staff_token(session, roles, "test " + "+".join(roles), expires_days)[1]

    return make


@pytest.fixture
def auth(make_token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """Headers for a request made with a fresh token holding the given roles."""

    def headers(*roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(*roles)}"}

    return headers


@pytest.fixture(autouse=True)
def protocol_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """With PSAM_TEST_PROTOCOL_DAY set, new tasks follow the protocol in force on that day
    (only the protocol's choice moves; windows and times keep the real clock)."""
    if PROTOCOL_DAY:
        day = dt.date.fromisoformat(PROTOCOL_DAY)
        monkeypatch.setattr(Catalogue, "protocol", property(lambda self: self.protocol_on(day)))


def shipped_version(instrument: str, timepoint: str = "baseline") -> str:
    """The version of a shipped questionnaire that the shipped protocol in force today (or on
    PSAM_TEST_PROTOCOL_DAY) asks for at a timepoint: what a test starting that task sends."""
    today = dt.date.fromisoformat(PROTOCOL_DAY) if PROTOCOL_DAY else dt.datetime.now(dt.UTC).date()
    return _shipped_version(instrument, timepoint, today)


@functools.cache
def _shipped_version(instrument: str, timepoint: str, today: dt.date) -> str:
    # Reading the folder costs tens of milliseconds: a load test asking once a request
    # (200 threads, one GIL) would spend its time here instead of sending.
    protocol = protocol_in_force(load_definitions(INSTRUMENTS).protocols, today)
    assert protocol is not None
    point = next(t for t in protocol.timepoints if t.id == timepoint)
    return next(v for i, v in point.instruments if i == instrument)


def ask_also(folder: Path, *asked: tuple[int, str, str]) -> None:
    """Write, in an instruments folder, a protocol that asks what the one in force today asks
    and also each ``(timepoint index, instrument, version)``. It is the highest version and
    takes effect at once, so it is in force on any day, before and after an amendment's
    ``effective_from``."""
    definitions = load_definitions(folder)
    today = dt.date.fromisoformat(PROTOCOL_DAY) if PROTOCOL_DAY else dt.datetime.now(dt.UTC).date()
    protocol = dict(protocol_in_force(definitions.protocols, today).definition)  # type: ignore[union-attr]
    protocol = json.loads(json.dumps(protocol))
    protocol["version"] = "99.0.0"
    protocol.pop("effective_from", None)
    for index, instrument, version in asked:
        protocol["timepoints"][index]["instruments"].append({"id": instrument, "version": version})
    (folder / "protocol-99.0.0.json").write_text(json.dumps(protocol, indent=2))


ALL_REQUIRED = {
    "id": "all-required",
    "version": "1.0.0",
    "kind": "questionnaire",
    "title": "Every item required",
    "language": "en-GB",
    "source": "Made up for a test",
    "choice_sets": {"four": [{"code": c, "label": f"Answer {c}"} for c in range(4)]},
    "items": [
        {
            "id": f"r_{i}",
            "text": f"Question {i}",
            "type": "choice",
            "required": True,
            "choices": "four",
        }
        for i in range(1, 6)
    ],
}


def ask_all_required(folder: Path, session: Session) -> None:
    """Publish, in a copy of the instruments folder and in the test's transaction, a
    questionnaire whose every item is required, asked at baseline from now on. Amendment 1.1
    makes every item of the shipped questionnaires optional, so a test of "required" needs
    its own."""
    (folder / "all-required").mkdir()
    (folder / "all-required" / "1.0.0.json").write_text(json.dumps(ALL_REQUIRED))
    ask_also(folder, (0, "all-required", "1.0.0"))
    assert not sync_definitions(session, load_definitions(folder)).refused
    session.commit()


@pytest.fixture
def instruments_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped instruments folder."""
    target = tmp_path / "instruments"
    shutil.copytree(INSTRUMENTS, target)
    return target


@pytest.fixture
def keys(app: Flask) -> KeyringSource:
    """The app's keyring source."""
    source = app.extensions["psam_keys"]
    assert isinstance(source, KeyringSource)
    return source


@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[Callable[[str], Flask]]:
    """An app on a new, migrated database of its own, whose writes really commit."""
    made: list[Flask] = []

    def make(name: str, *, sqlite: bool = False) -> Flask:
        url = fresh_database(name, tmp_path, sqlite=sqlite)
        command.upgrade(alembic_config(url), "head")
        settings = config_for_tests(url, str(tmp_path / f"{name}-instance"))
        write_keyring_file(Path(settings["PSAM_KEYRING"]), Keyring.generate(), create=True)
        application = create_app(settings)
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["psam_db"].engine.dispose()


def valid_signature(client: FlaskClient, **changes: object) -> dict[str, object]:
    """A consent signing body that matches the form in force, with any fields changed."""
    form = client.get("/api/v1/consent/form").get_json()
    body: dict[str, object] = {
        "form_version": form["version"],
        "form_hash": form["sha256"],
        "clauses": {c["id"]: True for c in form["clauses"]},
        "typed_name": "Sam Participant",
    }
    body.update(changes)
    return body


def asked_version(
    client: FlaskClient, me: dict[str, str], instrument: str, timepoint: str = "baseline"
) -> str:
    """The version the task list asks for (the protocol in force decides, so a test that
    reads it passes on any day, before and after an amendment takes effect)."""
    tasks = client.get("/api/v1/me", headers=me).get_json().get("tasks", [])
    found = [
        t["version"] for t in tasks if (t["instrument"], t["timepoint"]) == (instrument, timepoint)
    ]
    return found[0] if found else "1.0.0"  # not asked for: a version that exists


def consented_participant(app: Flask) -> tuple[FlaskClient, str, str]:
    """On an app of its own (``fresh_app``): sync the catalogue, enrol a participant through
    the API and sign their consent. Returns a client, their study ID and their token."""
    with app.app_context(), get_db().sessionmaker() as session:
        sync_definitions(session, load_definitions(INSTRUMENTS))
        staff = create_staff_token(session, ["researcher"], "r")[1]
    client = app.test_client()
    made = client.post(
        "/api/v1/participants", json={}, headers={"Authorization": f"Bearer {staff}"}
    ).get_json()
    me = {"Authorization": f"Bearer {made['token']}"}
    signed = client.post("/api/v1/me/consent", json=valid_signature(client), headers=me)
    assert signed.status_code == 201
    return client, made["study_id"], made["token"]

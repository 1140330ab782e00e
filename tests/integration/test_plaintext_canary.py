"""No plaintext at rest: distinct markers planted in every encrypted column never appear in
the raw database (the SQLite file bytes, or a pg_dump of PostgreSQL).

This test stays for good. It plants markers through the real API into every column of type
EncryptedBytes that the models declare, and fails when a new encrypted column appears that
the planting does not reach, so a feature that stores new participant data is caught here
if it stores plaintext.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import make_url, text

from service.db import Base, EncryptedBytes, get_db
from service.services.tokens import create_staff_token
from tests.conftest import INSTRUMENTS, asked_version, valid_signature


def encrypted_columns() -> set[tuple[str, str]]:
    return {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.c
        if isinstance(column.type, EncryptedBytes)
    }


def plant(app: Flask, n: int) -> dict[tuple[str, str], list[str]]:
    """Walk one participant through the service, leaving markers in every encrypted column."""
    from service.services.catalogue import sync_definitions
    from service.services.definitions import load_definitions

    with app.app_context(), get_db().sessionmaker() as session:
        sync_definitions(session, load_definitions(INSTRUMENTS))
        staff = create_staff_token(session, ["researcher"], "canary")[1]
    client = app.test_client()
    researcher = {"Authorization": f"Bearer {staff}"}
    contact = {
        "name": f"CANARY-name-{n}",
        "email": f"canary-email-{n}@example.org",
        "phone": f"+44 7700 9{n:05d}",
    }
    made = client.post("/api/v1/participants", json={"contact": contact}, headers=researcher)
    me = {"Authorization": f"Bearer {made.get_json()['token']}"}
    signature = f"CANARY-signature-{n}"
    consent = valid_signature(client, typed_name=signature)
    assert client.post("/api/v1/me/consent", json=consent, headers=me).status_code == 201
    free_text = f"CANARY-free-text-{n}"
    about = {
        "instrument": "about-you",
        "version": asked_version(client, me, "about-you"),
        "timepoint": "baseline",
        "submit": True,
        "answers": {
            "ay_role": 3,
            "ay_role_other": free_text,
            "ay_age_band": 3,
            "ay_months_since": 4,
            "ay_previous_losses": 0,
            "ay_ethnicity": 1,
        },
    }
    keyed = {**me, "Idempotency-Key": f"canary-about-{n}"}  # its stored answer holds the text
    assert client.post("/api/v1/me/responses", json=about, headers=keyed).status_code == 201
    # A PHQ-9 totalling 23 with item 9 > 0: its stored scores read "value":23,"band":"severe".
    phq9 = {f"phq9_{i}": 3 for i in range(1, 8)} | {"phq9_8": 1, "phq9_9": 1, "phq9_10": 2}
    submit = {
        "instrument": "phq-9",
        "version": asked_version(client, me, "phq-9"),
        "timepoint": "baseline",
        "answers": phq9,
        "submit": True,
    }
    replayed = {**me, "Idempotency-Key": f"canary-{n}"}
    assert client.post("/api/v1/me/responses", json=submit, headers=replayed).status_code == 201
    (alert,) = client.get("/api/v1/alerts", headers=researcher).get_json()["alerts"][:1]
    note = f"CANARY-alert-note-{n}"
    acked = client.post(
        f"/api/v1/alerts/{alert['id']}/ack", json={"note": note}, headers=researcher
    )
    assert acked.status_code == 200
    score = '"value":23,"band":"severe"'
    return {
        ("identity_values", "value"): [*contact.values(), signature],
        ("responses", "answers"): [free_text],
        ("responses", "scores"): [score],
        ("alerts", "note"): [note],
        # The rule ids are in the shipped definitions' plaintext, so they cannot be markers
        # here: test_alert_rows_name_no_rule checks the alert rows' plaintext for them.
        ("alerts", "reasons"): [],
        ("idempotency_records", "body"): [score, free_text],
    }


def raw_bytes(app: Flask, tmp_path: Path) -> bytes:
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        with app.app_context():
            get_db().engine.dispose()  # close connections; the WAL stays on disk to be read
        database = Path(url.database or "")
        return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is needed to check a PostgreSQL database for plaintext")
    out = tmp_path / "dump.sql"
    plain_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run([pg_dump, "--dbname", plain_url, "--file", str(out)], check=True, timeout=120)
    return out.read_bytes()


def test_no_marker_reaches_the_database_in_plaintext(fresh_app, tmp_path: Path) -> None:
    app = fresh_app("psam_canary_test")
    planted: dict[tuple[str, str], list[str]] = {}
    for n in range(2):
        for column, markers in plant(app, n).items():
            planted.setdefault(column, []).extend(markers)
    assert set(planted) == encrypted_columns(), "plant a marker in every encrypted column"
    dump = raw_bytes(app, tmp_path)
    assert b"PSAM-" in dump  # the structure is there, so the dump was read
    # pg_dump writes bytea as hex, so plaintext in a binary column would show up hex-encoded.
    leaked = [
        (column, marker)
        for column, markers in planted.items()
        for marker in markers
        for form in (marker.encode(), marker.encode("utf-16-le"), marker.encode().hex().encode())
        if form in dump
    ]
    assert leaked == []


def test_alert_rows_name_no_rule(fresh_app) -> None:
    """Which answer raised an alert is in its encrypted reasons, nowhere in its row."""
    app = fresh_app("psam_canary_alerts", sqlite=True)
    plant(app, 0)
    with app.app_context(), get_db().sessionmaker() as session:
        rows = session.execute(text("SELECT * FROM alerts")).mappings().all()
    assert rows, "the PHQ-9 answers raised an alert"
    for row in rows:
        plain = " ".join(str(v) for k, v in row.items() if k not in ("reasons", "note"))
        assert "phq9" not in plain and "item9" not in plain and "severe" not in plain
        assert row["rule_id"] == "sealed" and row["reasons"] is not None

"""No plaintext at rest: distinct markers planted in every encrypted column never appear in
the raw database (SQLite file bytes, or a pg_dump of PostgreSQL).

This test stays for good. It plants a marker through every column of type EncryptedBytes
that the models declare, and fails if a new one appears without a marker planted in it, so
that a feature storing new participant data is caught here if it stores plaintext.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import make_url

from service.db import Base, EncryptedBytes, get_db
from service.resources import get_keys
from service.services.participants import enrol_participant
from service.services.vault import Vault

# Each encrypted column, and how to plant a marker in it through the service code.
PLANTERS = {
    ("identity_values", "value"): "identity",
}


def encrypted_columns() -> set[tuple[str, str]]:
    return {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.c
        if isinstance(column.type, EncryptedBytes)
    }


def test_every_encrypted_column_has_a_planter() -> None:
    assert encrypted_columns() == set(PLANTERS)


def raw_bytes(app: Flask, tmp_path: Path) -> bytes:
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        get_db().engine.dispose()  # close connections; the WAL stays on disk to be read too
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
    markers: list[str] = []
    with app.app_context():
        session = get_db().sessionmaker()
        for n in range(3):
            contact = {kind: f"CANARY-{kind}-{n}-{'x' * 3}" for kind in ("name", "email", "phone")}
            person = enrol_participant(session, get_keys(), contact)
            markers += contact.values()
            signature = {"typed_name": f"CANARY-signature-{n}", "signed_at": "2026-11-25T10:00:00Z"}
            Vault(session, get_keys()).store_identity(person.study_id, "signature", signature)
            markers.append(signature["typed_name"])
            session.commit()
        study_id = person.study_id
        session.close()
        dump = raw_bytes(app, tmp_path)
    assert study_id.encode() in dump  # the structure is there, so the dump was read
    # pg_dump writes bytea as hex, so plaintext in a binary column shows up hex-encoded.
    forms = {m: (m.encode(), m.encode("utf-16-le"), m.encode().hex().encode()) for m in markers}
    leaked = [m for m, spelled in forms.items() if any(f in dump for f in spelled)]
    assert leaked == []

"""Full CSV export of 100,000 submitted PHQ-9 responses on PostgreSQL, through a real gunicorn.

Run: .venv/bin/python -m bench.bench_export [postgresql-url] [rows]
(default postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench_export, a database it empties).
Prints rows per second and the worker's peak memory for the export, and the database's own
COPY of the same rows (ciphertext, no decryption) as the yardstick. Never pass/fail.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, insert, make_url, text

from service.config import PROJECT_ROOT
from service.db import make_engine, utcnow
from service.domain.canonical import canonical_json
from service.domain.crypto import FieldContext, Keyring, encrypt_field, new_data_key
from service.domain.ledger import link
from service.domain.pseudonyms import new_study_id
from service.migrate import alembic_config
from service.models import ConsentLogEntry, DataKeyRecord, Participant, Response
from service.services.catalogue import sync_definitions
from service.services.definitions import load_definitions
from service.services.keyring import write_keyring_file
from service.services.tokens import create_staff_token

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench_export"
TIMEPOINTS = ("baseline", "month-3", "month-6")


def fresh(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    command.upgrade(alembic_config(url), "head")


def build(url: str, keyring: Keyring, rows: int) -> str:
    """Participants with data keys, consent events and submitted PHQ-9s; an analyst token."""
    engine = make_engine(url)
    from sqlalchemy.orm import sessionmaker

    with sessionmaker(engine)() as session:
        definitions = load_definitions(PROJECT_ROOT / "instruments")
        sync_definitions(session, definitions)
        token = create_staff_token(session, ["analyst"], "bench")[1]
        phq9 = next(i for i in definitions.instruments if i.id == "phq-9")
        consent = next(i for i in definitions.instruments if i.id == "consent")
    now = utcnow()
    previous = None
    people = (rows + len(TIMEPOINTS) - 1) // len(TIMEPOINTS)
    made = 0
    with engine.begin() as conn:
        for start in range(0, people, 1000):
            participants, keys, events, responses = [], [], [], []
            for _ in range(min(1000, people - start)):
                sid = new_study_id()
                dek = new_data_key()
                participants.append({"id": uuid.uuid4(), "study_id": sid, "enrolled_at": now})
                keys.append(
                    {
                        "study_id": sid,
                        "kek_id": keyring.primary.id,
                        "created_at": now,
                        "wrapped": keyring.wrap_data_key(dek, sid),
                    }
                )
                event = {
                    "type": "consent",
                    "study_id": sid,
                    "log": "consent",
                    "seq": 1 if previous is None else previous.seq + 1,
                    "form": {"id": "consent", "version": consent.version, "sha256": consent.sha256},
                    "clauses": {c.id: True for c in consent.items},
                    "commitment": secrets.token_hex(32),
                    "actor": {"kind": "bench"},
                    "recorded_at": now.isoformat(),
                }
                previous = link(previous, event)
                events.append(
                    {
                        "seq": previous.seq,
                        "prev_hash": previous.prev_hash,
                        "hash": previous.hash,
                        "event": canonical_json(event).decode(),
                        "type": "consent",
                        "study_id": sid,
                        "recorded_at": now,
                    }
                )
                for timepoint in TIMEPOINTS:
                    if made == rows:
                        break
                    rid = uuid.uuid4()
                    answers = {f"phq9_{i}": secrets.randbelow(4) for i in range(1, 10)}
                    total = sum(answers.values())
                    scores = [
                        {
                            "id": "phq9_total",
                            "label": "PHQ-9 total score",
                            "value": total,
                            "band": "x",
                            "participant_visible": True,
                        }
                    ]
                    responses.append(
                        {
                            "id": rid,
                            "study_id": sid,
                            "timepoint": timepoint,
                            "instrument_id": "phq-9",
                            "version": "1.0.0",
                            "instrument_hash": phq9.sha256,
                            "status": "submitted",
                            "answers": encrypt_field(
                                dek, answers, FieldContext("responses", "answers", str(rid), sid)
                            ),
                            "scores": encrypt_field(
                                dek, scores, FieldContext("responses", "scores", str(rid), sid)
                            ),
                            "started_at": now,
                            "updated_at": now,
                            "submitted_at": now,
                        }
                    )
                    made += 1
            conn.execute(insert(Participant), participants)
            conn.execute(insert(DataKeyRecord), keys)
            conn.execute(insert(ConsentLogEntry), events)
            conn.execute(insert(Response), responses)
    engine.dispose()
    return token


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        keyring_path = Path(folder) / "keyring.json"
        keyring = Keyring.generate()
        write_keyring_file(keyring_path, keyring, create=True)
        fresh(url)
        started = time.perf_counter()
        token = build(url, keyring, rows)
        print(f"built {rows} submitted responses in {time.perf_counter() - started:.1f} s")

        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PSAM_KEYRING": str(keyring_path),
            "PSAM_INSTANCE_DIR": folder,
            "PSAM_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers",
                "1",
                "--timeout",
                "600",
                "--bind",
                "127.0.0.1:8765",
                "wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen("http://127.0.0.1:8765/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            worker = int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])
            before = peak_rss_kib(worker)
            request = urllib.request.Request(
                "http://127.0.0.1:8765/api/v1/exports/responses?instrument=phq-9",
                headers={"Authorization": f"Bearer {token}"},
            )
            started = time.perf_counter()
            lines = size = 0
            with urllib.request.urlopen(request, timeout=600) as response:
                for line in response:
                    lines += 1
                    size += len(line)
            seconds = time.perf_counter() - started
            peak = peak_rss_kib(worker)
        finally:
            server.terminate()
            server.wait()
        print(
            f"API export (CSV, decrypted): {lines - 1} rows, {size / 1e6:.1f} MB in "
            f"{seconds:.1f} s = {(lines - 1) / seconds:,.0f} rows/s; worker peak RSS "
            f"{before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB after"
        )

        import psycopg

        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain) as conn, conn.cursor() as cursor:
            started = time.perf_counter()
            copied = 0
            copy_sql = (
                "COPY (SELECT study_id, timepoint, instrument_id, version, instrument_hash, id, "
                "submitted_at, answers, scores FROM responses WHERE instrument_id = 'phq-9' "
                "AND status = 'submitted' ORDER BY submitted_at, id) TO STDOUT WITH CSV HEADER"
            )
            with cursor.copy(copy_sql) as copy:
                for block in copy:
                    copied += len(block)
            seconds = time.perf_counter() - started
        print(
            f"COPY of the same rows (ciphertext, no decryption): {copied / 1e6:.1f} MB in "
            f"{seconds:.2f} s = {rows / seconds:,.0f} rows/s"
        )


if __name__ == "__main__":
    main()

"""Rotation: re-wrapping data keys online, under concurrent enrolment, and after a crash."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import PROJECT_ROOT
from service.db import get_db
from service.models import Participant
from service.services.keyring import KeyringSource
from service.services.keys import add_primary_kek, retire_kek, rewrap_data_keys
from service.services.participants import enrol_participant
from service.services.vault import Vault, data_keys_per_kek


def everything_decrypts(app: Flask) -> int:
    """Read every participant's identities with a keyring freshly loaded from disk."""
    keys = KeyringSource(app.config["PSAM_KEYRING"])
    with get_db().sessionmaker() as session:
        vault = Vault(session, keys)
        study_ids = session.scalars(select(Participant.study_id)).all()
        for sid in study_ids:
            assert dict(vault.identities(sid)) == {"name": f"name of {sid[5:13]}"}
    return len(study_ids)


def enrol(session: Session, keys: KeyringSource) -> None:
    person = enrol_participant(session, keys)
    Vault(session, keys).store_identity(person.study_id, "name", f"name of {person.study_id[5:13]}")
    session.commit()


def test_rotation_while_four_writers_keep_enrolling(fresh_app) -> None:
    app = fresh_app("psam_rotation_test")
    with app.app_context():
        sessions = get_db().sessionmaker
        keys = KeyringSource(app.config["PSAM_KEYRING"])
        old = keys.current().primary.id
        with sessions() as session:
            for _ in range(150):
                enrol(session, keys)

        stop = threading.Event()
        enrolled = [0] * 4
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            own_keys = KeyringSource(app.config["PSAM_KEYRING"])  # as a separate worker would
            try:
                while not stop.is_set():
                    with sessions() as session:
                        enrol(session, own_keys)
                    enrolled[n] += 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        during_start = sum(enrolled)
        new = add_primary_kek(keys)
        report = rewrap_data_keys(sessions, keys, batch_size=20)
        during_end = sum(enrolled)
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        assert errors == []
        assert during_end > during_start  # writers really ran while keys were re-wrapped
        assert report.rewrapped >= 150
        with sessions() as session:
            assert data_keys_per_kek(session) == {new: 150 + sum(enrolled)}
        assert everything_decrypts(app) == 150 + sum(enrolled)
        retire_kek(sessions, keys, old)
        assert keys.reload().keks[old].material is None
        assert everything_decrypts(app) == 150 + sum(enrolled)


def test_an_interrupted_rotation_completes_when_run_again(fresh_app, tmp_path: Path) -> None:
    app = fresh_app("psam_rotation_crash_test")
    with app.app_context():
        sessions = get_db().sessionmaker
        keys = KeyringSource(app.config["PSAM_KEYRING"])
        old = keys.current().primary.id
        with sessions() as session:
            for _ in range(400):
                enrol(session, keys)
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "PSAM_KEYRING": app.config["PSAM_KEYRING"],
        "PSAM_INSTANCE_DIR": app.config["INSTANCE_DIR"],
    }
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "keys"]
    proc = subprocess.Popen(
        [*flask, "rotate", "--batch-size", "10", "--pause", "0.05"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    with app.app_context():
        while time.monotonic() < deadline:
            with get_db().sessionmaker() as session:
                counts = data_keys_per_kek(session)
            if len(counts) == 2 and min(counts.values()) >= 10:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # A COMMIT the killed process had already sent may still land on PostgreSQL's side
        # for a moment after the kill: read until the counts hold still.
        counts: dict[str, int] = {}
        for _ in range(100):
            with get_db().sessionmaker() as session:
                now = data_keys_per_kek(session)
            if now == counts:
                break
            counts = now
            time.sleep(0.2)
        assert len(counts) == 2 and counts[old] > 0, counts  # killed part-way
        new = keys.reload().primary.id
        assert new != old and counts[new] > 0

        finished = subprocess.run(
            [*flask, "rewrap", "--batch-size", "50"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
        assert f"{counts[old]} data keys re-wrapped to {new}" in finished.stdout
        with get_db().sessionmaker() as session:
            assert data_keys_per_kek(session) == {new: 400}
        assert everything_decrypts(app) == 400
        retired = subprocess.run(
            [*flask, "retire", old],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert retired.returncode == 0, retired.stderr
        assert everything_decrypts(app) == 400


def test_retiring_a_kek_that_still_wraps_data_keys_is_refused(fresh_app) -> None:
    app = fresh_app("psam_retire_test")
    with app.app_context():
        keys = KeyringSource(app.config["PSAM_KEYRING"])
        old = keys.current().primary.id
        with get_db().sessionmaker() as session:
            enrol(session, keys)
        add_primary_kek(keys)
        result = app.test_cli_runner().invoke(args=["keys", "retire", old])
        assert result.exit_code == 1 and "1 data keys are still wrapped" in result.output
        status = app.test_cli_runner().invoke(args=["keys", "status"]).output
        assert f"{old}" in status and "enabled" in status and "1 data keys" in status

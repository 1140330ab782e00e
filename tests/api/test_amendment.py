"""Protocol amendment 1.1 run through the service as a study would run it.

Fifty participants are part-way through on 1.0.0 when ``instruments sync`` publishes 1.1.0
and a protocol that points new tasks at it from a stated day (here: today). Each is asked to
re-consent first; a draft started on 1.0.0 is finished on 1.0.0; their next tasks use 1.1.0;
the export across versions has the new columns at the end, and every row carries its
instrument hash and the consent version in force when it was given. Runs on the database
under test (SQLite, or PostgreSQL with TEST_DATABASE_URL).
"""

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from service.db import get_db
from service.services.tokens import create_staff_token
from tests.conftest import INSTRUMENTS, valid_signature

COHORT = 50
Headers = dict[str, str]


def before_the_amendment(tmp_path: Path) -> Path:
    """The instruments folder as it was: 1.0.0 only, protocol 1.0.0."""
    folder = tmp_path / "before"
    shutil.copytree(INSTRUMENTS, folder)
    for path in folder.glob("*/*.json"):
        if path.stem != "1.0.0":
            path.unlink()
    shutil.rmtree(folder / "follow-up")
    for path in folder.glob("protocol-*.json"):
        path.unlink()
    return folder


def amendment_from(tmp_path: Path, day: dt.date) -> Path:
    """The shipped folder as amendment 1.1 published it (without the Welsh versions that
    came after: docs/languages.md), its amended protocol taking effect on ``day``."""
    folder = tmp_path / "after"
    shutil.copytree(INSTRUMENTS, folder)
    for path in folder.glob("*/*.json"):
        if "languages" in json.loads(path.read_text(encoding="utf-8")):
            path.unlink()
    for version in ("1.0.1", "1.1.1"):
        (folder / f"protocol-{version}.json").unlink()
    path = folder / "protocol-1.1.0.json"
    protocol = json.loads(path.read_text())
    protocol["effective_from"] = day.isoformat()
    path.write_text(json.dumps(protocol))
    return folder


def sync(app: Flask, folder: Path) -> str:
    result = app.test_cli_runner().invoke(args=["instruments", "sync", "--directory", str(folder)])
    assert result.exit_code == 0, result.output
    return result.output


def staff(app: Flask, *roles: str) -> Headers:
    with app.app_context(), get_db().sessionmaker() as session:
        token = create_staff_token(session, list(roles), "amendment")[1]
    return {"Authorization": f"Bearer {token}"}


def joined(
    client: FlaskClient, researcher: Headers, *, contact: bool = True
) -> tuple[Headers, dict]:
    """A participant enrolled by a researcher, who signs the form in force (agreeing to
    every clause, or to all but interview contact): their headers and their receipt."""
    made = client.post("/api/v1/participants", json={}, headers=researcher).get_json()
    me = {"Authorization": f"Bearer {made['token']}"}
    clauses = {c["id"]: True for c in client.get("/api/v1/consent/form").get_json()["clauses"]}
    if not contact:  # audio and quotes are then not asked
        clauses.update(c_contact_interview=False)
        clauses.pop("c_audio_recording", None)
        clauses.pop("c_anonymised_quotes", None)
    body = valid_signature(client, clauses=clauses)
    signed = client.post("/api/v1/me/consent", json=body, headers=me)
    assert signed.status_code == 201, signed.get_json()
    return me, signed.get_json()


def respond(client: FlaskClient, me: Headers, instrument: str, version: str, **body: object):
    payload = {"instrument": instrument, "version": version, "timepoint": "baseline", **body}
    return client.post("/api/v1/me/responses", json=payload, headers=me)


EPDS_LOW = {f"epds_{i}": 0 for i in range(1, 11)}
PHQ9_LOW = {f"phq9_{i}": 0 for i in range(1, 10)}


def test_fifty_participants_cross_the_amendment(fresh_app, tmp_path: Path) -> None:
    app = fresh_app("psam_amendment")
    client = app.test_client()
    assert "added: consent 1.0.0" in sync(app, before_the_amendment(tmp_path))
    researcher, analyst = staff(app, "researcher"), staff(app, "analyst")

    people: list[Headers] = []
    for n in range(COHORT):
        me, receipt = joined(client, researcher)
        assert receipt["form_version"] == "1.0.0"
        assert (
            respond(client, me, "epds", "1.0.0", answers=EPDS_LOW, submit=True).status_code == 201
        )
        draft = respond(client, me, "phq-9", "1.0.0", answers={"phq9_1": n % 4})
        assert draft.status_code == 201
        people.append(me)

    output = sync(app, amendment_from(tmp_path, dt.datetime.now(dt.UTC).date()))
    for label in ("consent 1.1.0", "epds 1.1.0", "follow-up 1.0.0", "protocol 1.1.0"):
        assert f"added: {label}" in output
    form = client.get("/api/v1/consent/form").get_json()
    assert (form["version"], form["reconsent"]) == ("1.1.0", "required") and form["changes"]

    for n, me in enumerate(people):
        view = client.get("/api/v1/me", headers=me).get_json()
        assert view["consent"]["state"] == "needs-reconsent"
        first = view["tasks"][0]
        assert (first["instrument"], first["version"]) == ("consent", "1.1.0")
        refused = respond(client, me, "gad-7", "1.1.0", answers={})
        assert refused.status_code == 403, refused.get_json()
        clauses = {c["id"]: True for c in form["clauses"]}
        if n % 2:  # no interview contact: audio and quotes are not asked
            clauses.update(c_contact_interview=False)
            del clauses["c_audio_recording"], clauses["c_anonymised_quotes"]
        body = valid_signature(client, clauses=clauses)
        renewed = client.post("/api/v1/me/consent", json=body, headers=me)
        assert renewed.status_code == 201, renewed.get_json()
        if n % 2:
            assert renewed.get_json()["clauses"]["c_audio_recording"] is False

        listed = client.get("/api/v1/me", headers=me).get_json()["tasks"]
        tasks = {t["instrument"]: t for t in listed if t["timepoint"] == "baseline"}
        later = {(t["instrument"], t["version"]) for t in listed if t["timepoint"] == "month-3"}
        assert ("follow-up", "1.0.0") in later and ("phq-9", "1.1.0") in later
        assert tasks["phq-9"]["version"] == "1.0.0" and tasks["phq-9"]["status"] == "in-progress"
        assert tasks["epds"]["version"] == "1.0.0" and tasks["epds"]["status"] == "completed"
        assert {tasks[i]["version"] for i in ("gad-7", "pcl-5", "about-you")} == {"1.1.0"}
        # The draft started on 1.0.0 is finished on 1.0.0.
        draft_id = tasks["phq-9"]["response_id"]
        saved = client.patch(
            f"/api/v1/me/responses/{draft_id}",
            json={"answers": PHQ9_LOW | {"phq9_1": n % 4}},
            headers=me,
        )
        assert saved.status_code == 200, saved.get_json()
        done = client.post(f"/api/v1/me/responses/{draft_id}/submit", headers=me).get_json()
        assert (done["status"], done["version"]) == ("submitted", "1.0.0")
        # A new task is on 1.1.0 only.
        stale = respond(client, me, "gad-7", "1.0.0", answers={})
        assert stale.status_code == 422 and "instrument" in stale.get_json()["errors"]
        fresh = respond(client, me, "gad-7", "1.1.0", answers={}, submit=True)
        assert fresh.status_code == 201 and fresh.get_json()["scores"][0]["value"] is None

    # EPDS 1.0.0 at baseline for everyone; the later version at baseline is not asked again,
    # so a second cohort joining after the amendment answers 1.1.0.
    late = []
    for _ in range(3):
        me, _ = joined(client, researcher)
        answered = respond(client, me, "epds", "1.1.0", answers=EPDS_LOW, submit=True)
        assert answered.status_code == 201, answered.get_json()
        assert answered.get_json()["scores"] == []  # no EPDS band shown to participants
        late.append(me)

    exported = client.get("/api/v1/exports/responses?instrument=epds", headers=analyst)
    assert exported.status_code == 200
    text = exported.get_data(as_text=True)
    header = next(csv.reader(io.StringIO(text)))
    # What 1.1.0 adds comes after 1.0.0's columns, and only the language after it.
    assert header[-3:] == ["epds_3a", "epds_3a_band", "response_language"]
    assert header.index("epds_total_band") < header.index("epds_3a")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == COHORT + len(late)
    hashes = {
        v: client.get(f"/api/v1/instruments/epds/versions/{v}").get_json()["sha256"]
        for v in ("1.0.0", "1.1.0")
    }
    for row in rows:
        assert row["instrument_hash"] == hashes[row["version"]]
        assert row["consent_version"] == row["version"]  # 1.0.0 before, 1.1.0 after
    assert sum(r["version"] == "1.1.0" and r["epds_3a"] == "0" for r in rows) == len(late)

    book = client.get("/api/v1/exports/codebook?instrument=epds", headers=analyst).get_json()
    amended = {s["id"]: s for s in book["versions"][1]["scores"]}
    assert amended["epds_3a"]["source"].startswith("Matthey S (2008)")
    assert amended["epds_3a"]["missing_rule"].startswith("Withheld")
    assert "partners" in amended["epds_total"]["note"]
    assert not any(s["participant_visible"] for s in amended.values())
    as_csv = client.get("/api/v1/exports/codebook?instrument=epds&format=csv", headers=analyst)
    assert "Missing answers: Withheld" in as_csv.get_data(as_text=True)

    phq = client.get("/api/v1/exports/responses?instrument=phq-9", headers=analyst)
    phq_rows = list(csv.DictReader(io.StringIO(phq.get_data(as_text=True))))
    # Finished on 1.0.0 after re-consenting: the consent in force then was 1.1.0.
    assert {(r["version"], r["consent_version"]) for r in phq_rows} == {("1.0.0", "1.1.0")}


def test_alerts_are_raised_on_save_and_one_timepoint_gives_one_alert(
    fresh_app, tmp_path: Path
) -> None:
    app = fresh_app("psam_amendment_alerts")
    client = app.test_client()
    sync(app, amendment_from(tmp_path, dt.datetime.now(dt.UTC).date()))
    researcher = staff(app, "researcher")
    me, _ = joined(client, researcher)

    def open_alerts() -> list[dict]:
        return client.get("/api/v1/alerts", headers=researcher).get_json()["alerts"]

    # Item 9 answered in a draft, never submitted: the team sees it at once.
    draft = respond(client, me, "phq-9", "1.1.0", answers={"phq9_9": 2})
    assert draft.status_code == 201
    assert [a["id"] for a in draft.get_json()["alerts"]] == ["phq9_item9"]
    (alert,) = open_alerts()
    assert (alert["severity"], alert["reasons"], alert["timepoint"]) == (
        "urgent",
        ["phq9_item9"],
        "baseline",
    )
    # Submitting the same answers raises nothing new; a severe total adds a routine alert.
    severe = {f"phq9_{i}": 3 for i in range(1, 9)} | {"phq9_9": 2}
    draft_id = draft.get_json()["id"]
    client.patch(f"/api/v1/me/responses/{draft_id}", json={"answers": severe}, headers=me)
    submitted = client.post(f"/api/v1/me/responses/{draft_id}/submit", headers=me).get_json()
    assert {a["id"] for a in submitted["alerts"]} == {"phq9_item9", "phq9_severe"}
    routine = next(a for a in submitted["alerts"] if a["id"] == "phq9_severe")
    assert "GP" in routine["signposting"]
    by_severity = {a["severity"]: a for a in open_alerts()}
    assert set(by_severity) == {"urgent", "routine"}
    assert by_severity["urgent"]["reasons"] == ["phq9_item9"]
    assert by_severity["routine"]["reasons"] == ["phq9_severe"]

    # EPDS item 10 at the same timepoint joins the open urgent alert.
    epds = EPDS_LOW | {"epds_10": 1}
    assert respond(client, me, "epds", "1.1.0", answers=epds, submit=True).status_code == 201
    urgent = [a for a in open_alerts() if a["severity"] == "urgent"]
    assert len(urgent) == 1 and urgent[0]["reasons"] == ["phq9_item9", "epds_item10"]
    assert urgent[0]["rule"] == "phq9_item9"

    # Once acknowledged, a reason it already holds is not raised again; a new one is.
    acked = client.post(
        f"/api/v1/alerts/{urgent[0]['id']}/ack", json={"note": "called"}, headers=researcher
    )
    assert acked.status_code == 200 and acked.get_json()["reasons"] == ["phq9_item9", "epds_item10"]
    assert [a["severity"] for a in open_alerts()] == ["routine"]

    # The participant's page for researchers shows the same alerts, reasons decrypted.
    study_id = client.get("/api/v1/me", headers=me).get_json()["study_id"]
    detail = client.get(f"/api/v1/participants/{study_id}", headers=researcher).get_json()
    assert detail["open_alerts"] == 1
    assert [(a["severity"], a["reasons"], a["status"]) for a in detail["alerts"]] == [
        ("urgent", ["phq9_item9", "epds_item10"], "acknowledged"),
        ("routine", ["phq9_severe"], "open"),
    ]

"""The staff console through the test client: sign-in, roles, each page's task and its
access-log event, CSRF, sign-out that ends copied cookies, the idle timeout."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from service import create_app, offline_verify
from service.config import ConfigError, config_for_tests
from service.domain.crypto import Keyring
from service.domain.tokens import TokenKind, generate_token
from service.models import AccessLogEntry, Notification
from service.services.keyring import write_keyring_file
from service.web import session as web_session
from service.web import staff_session
from service.web.letters import render_letter
from service.web.links import link_qr_svg
from tests.api.test_access_trail import a_failed_message
from tests.conftest import shipped_version, valid_signature
from tests.web.conftest import HTML, Page

PHQ9_ALERTING = {**{f"phq9_{i}": 1 for i in range(1, 10)}, "phq9_10": 1}

# Every console page and the roles that may see it (GET unless a body is given).
PAGES = {
    "/staff/dashboard": {"researcher"},
    "/staff/alerts": {"researcher"},
    "/staff/participants": {"researcher"},
    "/staff/enrol": {"researcher"},
    "/staff/tokens": {"admin"},
    "/staff/keys": {"admin"},
    "/staff/exports": {"analyst"},
    "/staff/audit": {"auditor"},
}


def sign_in(client: FlaskClient, token: str) -> Page:
    """Sign in through the form, as a person would, and land on the console's home."""
    form = Page(client.get("/staff/sign-in", headers=HTML).get_data(as_text=True))
    answer = client.post(
        "/staff/sign-in", data={"token": token, "csrf_token": form.csrf}, headers=HTML
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:400]
    home = client.get(answer.headers["Location"], headers=HTML)
    assert home.status_code == 200
    return Page(home.get_data(as_text=True))


def actions(connection: Connection, after: int = 0) -> list[dict]:
    rows = connection.execute(
        select(AccessLogEntry.event).where(AccessLogEntry.seq > after).order_by(AccessLogEntry.seq)
    )
    return [json.loads(e) for (e,) in rows]


def head(connection: Connection) -> int:
    found = connection.execute(select(AccessLogEntry.seq).order_by(AccessLogEntry.seq.desc()))
    return found.scalar() or 0


def test_the_console_sends_a_stranger_to_sign_in(client: FlaskClient) -> None:
    for path in ("/staff/", *PAGES):
        answer = client.get(path, headers=HTML)
        assert answer.status_code == 303
        assert answer.headers["Location"].endswith("/staff/sign-in")


def test_sign_in_refuses_what_is_not_a_live_staff_token(
    app: Flask, client: FlaskClient, make_token: Callable[..., str], read: Callable[..., Page]
) -> None:
    participant = make_token("participant")
    for typed, fault in [
        ("", "Enter your staff token"),
        (participant, "This is a participant's access code"),
        ("psam_s_" + "A" * 49, "exactly as you were given it"),  # a wrong check character
        (generate_token(TokenKind.STAFF), "This token does not work"),  # never issued
    ]:
        form = read(client, "/staff/sign-in")
        answer = client.post(
            "/staff/sign-in", data={"token": typed, "csrf_token": form.csrf}, headers=HTML
        )
        page = Page(answer.get_data(as_text=True))
        assert page.title.startswith("Error: ")
        assert fault in page.text
        assert 'href="#token"' in page.html
        if typed:
            assert typed not in page.html  # a token is never shown back
    cookie = client.get_cookie(staff_session.COOKIE, path="/staff/")
    assert cookie is not None
    with app.app_context():  # the browser holds a session for its forms, nobody signed in
        held = web_session.decode(cookie.value, int(time.time()), staff_session.PURPOSE)
    assert held is not None and held.token_id is None


@pytest.mark.parametrize("role", ["researcher", "analyst", "auditor", "admin"])
def test_each_role_sees_its_pages_and_gets_403_for_the_others(
    client: FlaskClient, make_token: Callable[..., str], role: str
) -> None:
    home = sign_in(client, make_token(role))
    for path, allowed in PAGES.items():
        answer = client.get(path, headers=HTML)
        if role in allowed:
            assert answer.status_code == 200, path
            assert path in home.html  # and the menu offers it
        else:
            assert answer.status_code == 403, path
            assert "This page is for another role" in answer.get_data(as_text=True)
            assert path not in home.html


def test_the_console_session_is_not_a_participant_session(
    app: Flask, client: FlaskClient, make_token: Callable[..., str]
) -> None:
    sign_in(client, make_token("researcher"))
    cookie = client.get_cookie(staff_session.COOKIE, path="/staff/")
    assert cookie is not None
    assert cookie.http_only and cookie.same_site == "Strict"
    # The same value offered as the participant's cookie is refused: another HMAC purpose.
    with app.app_context():
        assert web_session.decode(cookie.value, int(time.time())) is None
        assert web_session.decode(cookie.value, int(time.time()), staff_session.PURPOSE)


def test_a_form_without_its_csrf_token_changes_nothing(
    client: FlaskClient, make_token: Callable[..., str], connection: Connection
) -> None:
    sign_in(client, make_token("admin"))
    before = head(connection)
    answer = client.post("/staff/tokens", data={"label": "New", "roles": ["analyst"]}, headers=HTML)
    assert answer.status_code == 400
    assert actions(connection, before) == []


def test_sign_out_ends_the_session_and_every_copy_of_its_cookie(
    app: Flask, client: FlaskClient, make_token: Callable[..., str]
) -> None:
    token = make_token("researcher")
    sign_in(client, token)
    copied = client.get_cookie(staff_session.COOKIE, path="/staff/")
    assert copied is not None
    csrf = Page(client.get("/staff/alerts", headers=HTML).get_data(as_text=True)).csrf
    assert (
        client.post("/staff/sign-out", data={"csrf_token": csrf}, headers=HTML).status_code == 200
    )
    other = app.test_client()
    other.set_cookie(staff_session.COOKIE, copied.value, path="/staff/")
    assert other.get("/staff/alerts", headers=HTML).status_code == 303
    # Signing in again with the same token works at once.
    sign_in(client, token)
    assert client.get("/staff/alerts", headers=HTML).status_code == 200


def test_an_idle_session_lapses(
    client: FlaskClient, make_token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(client, make_token("researcher"))
    later = time.time() + web_session.IDLE_SECONDS + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/staff/alerts", headers=HTML).status_code == 303


def test_a_revoked_token_ends_its_session(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    researcher = make_token("researcher")
    sign_in(client, researcher)
    admin = {"Authorization": f"Bearer {make_token('admin')}"}
    listed = client.get("/api/v1/tokens", headers=admin).get_json()["tokens"]
    victim = next(t for t in listed if "researcher" in t["roles"])
    client.post(f"/api/v1/tokens/{victim['id']}/revoke", headers=admin)
    assert client.get("/staff/alerts", headers=HTML).status_code == 303


def test_a_researcher_enrols_sees_the_link_once_and_acknowledges_an_alert(
    client: FlaskClient, make_token: Callable[..., str], connection: Connection
) -> None:
    sign_in(client, make_token("researcher"))
    form = Page(client.get("/staff/enrol", headers=HTML).get_data(as_text=True))
    bad = client.post(
        "/staff/enrol",
        data={"email": "not an address", "csrf_token": form.csrf},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert 'href="#email"' in bad.get_data(as_text=True)
    before = head(connection)
    made = client.post(
        "/staff/enrol",
        data={"site": "Leeds", "name": "Sam Example", "csrf_token": form.csrf},
        headers=HTML,
    )
    assert made.status_code == 200
    page = Page(made.get_data(as_text=True))
    assert [e["action"] for e in actions(connection, before)] == ["participant.enrol"]
    link = page.html.split('class="psam-link">')[1].split("<")[0]
    assert "/p/start#token=psam_p_" in link
    study_id = page.text.split("Study ID: ")[1].split()[0]
    token = link.split("#token=")[1]
    assert "Sam Example" not in page.html

    consent_and_alert(client, token)

    listed = Page(client.get("/staff/participants?site=Leeds", headers=HTML).get_data(as_text=True))
    assert study_id in listed.links
    detail = Page(
        client.get(f"/staff/participants/{study_id}", headers=HTML).get_data(as_text=True)
    )
    assert "Consent history" in detail.headings and "consent" in detail.text

    alerts = Page(client.get("/staff/alerts", headers=HTML).get_data(as_text=True))
    assert "Waiting for review (1)" in alerts.headings
    action = alerts.html.split("/ack")[0].split('action="')[-1] + "/ack"
    assert action.endswith("/ack")
    empty = client.post(action, data={"note": " ", "csrf_token": alerts.csrf}, headers=HTML)
    assert empty.status_code == 422 and "Enter a note of what was done" in empty.get_data(
        as_text=True
    )
    before = head(connection)
    done = client.post(
        action, data={"note": "Called, safe", "csrf_token": alerts.csrf}, headers=HTML
    )
    assert done.status_code == 303
    assert [e["action"] for e in actions(connection, before)] == ["alert.ack"]
    after = Page(client.get("/staff/alerts", headers=HTML).get_data(as_text=True))
    assert "Waiting for review (0)" in after.headings
    assert "Called, safe" in after.text  # the encrypted note, read back for researchers
    api = client.get(
        "/api/v1/alerts?status=acknowledged",
        headers={"Authorization": f"Bearer {make_token('researcher')}"},
    )
    assert [a["study_id"] for a in api.get_json()["alerts"]] == [study_id]


def test_an_admin_creates_a_token_shown_once_and_revokes_it(
    client: FlaskClient, make_token: Callable[..., str], connection: Connection
) -> None:
    sign_in(client, make_token("admin"))
    page = Page(client.get("/staff/tokens", headers=HTML).get_data(as_text=True))
    missing = client.post(
        "/staff/tokens", data={"label": "", "csrf_token": page.csrf}, headers=HTML
    )
    assert missing.status_code == 422
    text = missing.get_data(as_text=True)
    assert 'href="#label"' in text and 'href="#roles"' in text
    made = client.post(
        "/staff/tokens",
        data={"label": "Analyst at Leeds", "roles": ["analyst"], "csrf_token": page.csrf},
        headers=HTML,
    )
    assert made.status_code == 200
    secret = made.get_data(as_text=True).split('class="psam-token">')[1].split("<")[0]
    assert secret.startswith("psam_s_")
    analyst = {"Authorization": f"Bearer {secret}"}
    assert (
        client.get("/api/v1/exports/codebook?instrument=phq-9", headers=analyst).status_code == 200
    )
    listing = client.get("/staff/tokens", headers=HTML).get_data(as_text=True)
    assert secret not in listing
    revoke = listing.split("Analyst at Leeds")[1].split('action="')[1].split('"')[0]
    assert client.post(revoke, data={"csrf_token": page.csrf}, headers=HTML).status_code == 303
    assert (
        client.get("/api/v1/exports/codebook?instrument=phq-9", headers=analyst).status_code == 401
    )


def consent_and_alert(client: FlaskClient, token: str) -> None:
    """The participant signs the consent form and submits a PHQ-9 with item 9 endorsed."""
    own = {"Authorization": f"Bearer {token}"}
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=own).status_code
        == 201
    )
    body = {
        "instrument": "phq-9",
        "version": shipped_version("phq-9"),
        "timepoint": "baseline",
        "answers": PHQ9_ALERTING,
        "submit": True,
    }
    assert client.post("/api/v1/me/responses", json=body, headers=own).status_code == 201


def consented_with_alert(client: FlaskClient, researcher: str) -> str:
    """A participant enrolled, consented and with a submitted PHQ-9 (item 9 endorsed)."""
    made = client.post(
        "/api/v1/participants", json={}, headers={"Authorization": f"Bearer {researcher}"}
    ).get_json()
    consent_and_alert(client, made["token"])
    return str(made["study_id"])


def test_an_analyst_downloads_the_same_export_as_the_api_and_reads_its_manifest(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    consented_with_alert(client, make_token("researcher"))
    analyst = make_token("analyst")
    sign_in(client, analyst)
    form = Page(client.get("/staff/exports", headers=HTML).get_data(as_text=True))
    assert "PHQ-9" in form.text and "No export yet." in form.text
    wrong = client.get("/staff/exports/download?instrument=phq-9&format=xlsx", headers=HTML)
    assert wrong.status_code == 422
    assert 'href="#format"' in wrong.get_data(as_text=True)
    asked = (
        f"instrument=phq-9&version={shipped_version('phq-9')}"
        "&format=csv&pseudonyms=study-id&submitted=day"
    )
    page = client.get(f"/staff/exports/download?{asked}&submitted_since=2020-01-01")
    assert page.status_code == 200
    downloaded = page.get_data()  # the stream ends (and its manifest completes) when read
    assert page.headers["Content-Disposition"].startswith('attachment; filename="phq-9-')
    api = client.get(
        f"/api/v1/exports/responses?{asked}&submitted_since=2020-01-01T00:00:00Z",
        headers={"Authorization": f"Bearer {analyst}"},
    )
    assert downloaded == api.get_data()
    assert len(downloaded.decode().strip().splitlines()) == 2  # the header, one row
    export_id = page.headers["X-Export-Id"]
    manifest = Page(client.get(f"/staff/exports/{export_id}", headers=HTML).get_data(as_text=True))
    digest = hashlib.sha256(downloaded).hexdigest()
    assert digest in manifest.text and "Status complete" in manifest.text
    book = client.get("/staff/exports/codebook?instrument=phq-9")
    assert book.status_code == 200 and book.mimetype == "text/csv"
    assert "phq9_9" in book.get_data(as_text=True)


def test_an_auditor_reads_verifies_and_downloads_a_log_that_psam_verify_accepts(
    client: FlaskClient,
    make_token: Callable[..., str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    study_id = consented_with_alert(client, make_token("researcher"))
    consented_with_alert(client, make_token("researcher"))
    sign_in(client, make_token("auditor"))
    home = Page(client.get("/staff/audit", headers=HTML).get_data(as_text=True))
    assert home.text.count("Intact") == 2 and "Changed" not in home.text
    mine = Page(
        client.get(f"/staff/audit/consent?study_id={study_id}", headers=HTML).get_data(as_text=True)
    )
    assert study_id in mine.text
    everyone = Page(client.get("/staff/audit/consent", headers=HTML).get_data(as_text=True))
    assert everyone.text.count("PSAM-") > mine.text.count("PSAM-")
    typo = client.get("/staff/audit/consent?study_id=PSAM-XXXX", headers=HTML)
    assert typo.status_code == 422 and 'href="#study_id"' in typo.get_data(as_text=True)
    assert client.get("/staff/audit/nonsense", headers=HTML).status_code == 404
    exported = client.get("/staff/audit/consent/export")
    assert exported.status_code == 200
    (tmp_path / "consent.jsonl").write_bytes(exported.get_data())
    (tmp_path / "key.pem").write_bytes(client.get("/staff/audit/public-key").get_data())
    code = offline_verify.main(
        [
            str(tmp_path / "consent.jsonl"),
            "--public-key",
            str(tmp_path / "key.pem"),
            "--allow-unsigned-tail",
        ]
    )
    assert code == 0, capsys.readouterr()
    assert (
        "Checkpoints of the consent log"
        in Page(
            client.get("/staff/audit/consent/checkpoints", headers=HTML).get_data(as_text=True)
        ).h1
    )


def test_an_admin_sees_the_keyring(client: FlaskClient, make_token: Callable[..., str]) -> None:
    consented_with_alert(client, make_token("researcher"))
    sign_in(client, make_token("admin"))
    page = Page(client.get("/staff/keys", headers=HTML).get_data(as_text=True))
    assert "primary" in page.text
    counts = [int(n) for n in re.findall(r"<td class=\"nhsuk-table__cell\">(\d+)</td>", page.html)]
    assert counts and sum(counts) >= 1


def test_a_researcher_reads_contact_details_only_under_consent_makes_a_new_link_and_withdraws(
    client: FlaskClient, make_token: Callable[..., str], connection: Connection
) -> None:
    researcher = make_token("researcher")
    bearer = {"Authorization": f"Bearer {researcher}"}
    made = client.post(
        "/api/v1/participants",
        json={"contact": {"name": "Sam Example", "email": "sam@example.org"}},
        headers=bearer,
    ).get_json()
    study_id, old = made["study_id"], {"Authorization": f"Bearer {made['token']}"}
    sign_in(client, researcher)
    before = head(connection)
    refused = client.get(f"/staff/participants/{study_id}/contact", headers=HTML)
    assert refused.status_code == 403  # no consent yet: no contact clause in force
    assert "Sam Example" not in refused.get_data(as_text=True)
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=old).status_code
        == 201
    )
    shown = Page(
        client.get(f"/staff/participants/{study_id}/contact", headers=HTML).get_data(as_text=True)
    )
    assert "Sam Example" in shown.text and "sam@example.org" in shown.text
    assert [e["action"] for e in actions(connection, before)][-1] == "participant.contact.read"

    detail = Page(
        client.get(f"/staff/participants/{study_id}", headers=HTML).get_data(as_text=True)
    )
    fresh = client.post(
        f"/staff/participants/{study_id}/link", data={"csrf_token": detail.csrf}, headers=HTML
    )
    assert fresh.status_code == 200 and "New link made" in fresh.get_data(as_text=True)
    token = fresh.get_data(as_text=True).split("#token=")[1].split("<")[0]
    assert client.get("/api/v1/me", headers=old).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    unconfirmed = client.post(
        f"/staff/participants/{study_id}/withdrawal",
        data={"scope": "stop-and-erase", "csrf_token": detail.csrf},
        headers=HTML,
    )
    assert unconfirmed.status_code == 422
    assert 'href="#confirmed"' in unconfirmed.get_data(as_text=True)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    done = client.post(
        f"/staff/participants/{study_id}/withdrawal",
        data={"scope": "stop-and-erase", "confirmed": "yes", "csrf_token": detail.csrf},
        headers=HTML,
    )
    assert done.status_code == 200 and "Withdrawal recorded" in done.get_data(as_text=True)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    after = Page(client.get(f"/staff/participants/{study_id}", headers=HTML).get_data(as_text=True))
    assert "erased" in after.text and "Withdraw on their behalf" not in after.headings
    again = client.post(
        f"/staff/participants/{study_id}/withdrawal",
        data={"scope": "stop", "confirmed": "yes", "csrf_token": detail.csrf},
        headers=HTML,
    )
    assert again.status_code == 422  # nothing left to withdraw from, said on the page


def test_the_dashboard_counts_enrolments_completion_and_open_alerts(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    researcher = make_token("researcher")
    for _ in range(2):
        consented_with_alert(client, researcher)
    client.post("/api/v1/participants", json={}, headers={"Authorization": f"Bearer {researcher}"})
    sign_in(client, researcher)
    page = Page(client.get("/staff/dashboard", headers=HTML).get_data(as_text=True))
    assert "3 participants enrolled" in page.text
    assert "1 participant enrolled" not in page.text
    assert "2 alerts waiting for review (2 urgent)" in page.text
    # The week's bar holds all three; the chart's text alternative says so too.
    assert re.search(r"the last 12 weeks: (0, ){11}3</title>", page.html)
    assert "Baseline" in page.text or "baseline" in page.text
    assert re.search(r"(?i)baseline \d+% \(2 of \d+\)", page.html)


def test_the_link_page_holds_the_qr_code_and_the_deployments_letter_printed_alone(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    sign_in(client, make_token("researcher"))
    form = Page(client.get("/staff/enrol", headers=HTML).get_data(as_text=True))
    made = client.post("/staff/enrol", data={"csrf_token": form.csrf}, headers=HTML)
    assert made.headers["Cache-Control"] == "no-store"
    html = made.get_data(as_text=True)
    link = html.split('class="psam-link">')[1].split("<")[0]
    token = link.split("#token=")[1]
    assert link_qr_svg(link) in html  # the QR code of exactly this link, as segno makes it
    letter = html.split('<section class="psam-letter"')[1].split("</section>")[0]
    assert token in letter and link in letter and "<svg" in letter
    css = client.get("/p/assets/console.css").get_data(as_text=True)
    assert "@media print" in css and ".psam-letter" in css


def test_a_deployment_writes_its_own_letter_and_a_broken_one_stops_the_start(
    tmp_path: Path, database_url: str
) -> None:
    letter = tmp_path / "letter.html"
    letter.write_text("<p>Dear {{ study_id }}, your code: {{ access_code }}.</p>")
    settings = config_for_tests(database_url, str(tmp_path / "instance"))
    write_keyring_file(Path(settings["PSAM_KEYRING"]), Keyring.generate(), create=True)
    app = create_app({**settings, "PSAM_LETTER_TEMPLATE": str(letter)})
    with app.test_request_context():
        text = render_letter(
            app.extensions["psam_letter"],
            study_id="PSAM-1",
            link="https://x/p/start#token=t",
            access_code="<b>t</b>",
            qr_svg="<svg/>",
            today=dt.date(2026, 11, 26),
        )
    assert str(text) == "<p>Dear PSAM-1, your code: &lt;b&gt;t&lt;/b&gt;.</p>"  # autoescaped
    letter.write_text("<p>{{ study_id </p>")
    with pytest.raises(ConfigError, match="PSAM_LETTER_TEMPLATE"):
        create_app({**settings, "PSAM_LETTER_TEMPLATE": str(letter)})
    with pytest.raises(ConfigError, match="cannot read"):
        create_app({**settings, "PSAM_LETTER_TEMPLATE": str(tmp_path / "missing.html")})


def test_an_admin_sees_the_backlog_and_sends_a_failed_message_again(
    client: FlaskClient, make_token: Callable[..., str], session: Session
) -> None:
    consented_with_alert(client, make_token("researcher"))  # queues the safety message
    failed = a_failed_message(session)
    sign_in(client, make_token("admin"))
    page = Page(client.get("/staff/notifications", headers=HTML).get_data(as_text=True))
    waiting = re.search(r"Waiting to go now</th><td class=\"nhsuk-table__cell\">(\d+)<", page.html)
    assert waiting and int(waiting.group(1)) >= 1
    assert "ConnectionRefusedError" in page.text
    assert (
        client.post(
            f"/staff/notifications/{failed}/retry", data={"csrf_token": page.csrf}, headers=HTML
        ).status_code
        == 303
    )
    assert session.get(Notification, uuid.UUID(failed)).status == "pending"  # type: ignore[union-attr]
    again = client.post(
        f"/staff/notifications/{failed}/retry", data={"csrf_token": page.csrf}, headers=HTML
    )
    assert again.status_code == 409  # only a failed or cancelled message is sent again


def test_a_researcher_reads_the_messages_about_a_participant(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    study_id = consented_with_alert(client, make_token("researcher"))
    sign_in(client, make_token("researcher"))
    detail = Page(
        client.get(f"/staff/participants/{study_id}", headers=HTML).get_data(as_text=True)
    )
    assert "Reminders: none (" in detail.text  # no email address in the vault
    listed = Page(
        client.get(f"/staff/participants/{study_id}/messages", headers=HTML).get_data(as_text=True)
    )
    assert "safety-alert" in listed.text

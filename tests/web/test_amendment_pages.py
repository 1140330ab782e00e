"""The participant pages across amendment 1.1: re-consent first with what is new, contact
details under the interview-contact clause (to the identity vault), and skipping questions
with a gentle check before sending."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_amendment import amendment_from, before_the_amendment, joined, staff, sync
from tests.web.conftest import HTML, Page
from tests.web.test_answering_pages import answer, begin
from tests.web.test_session import sign_in

TODAY = dt.datetime.now(dt.UTC).date()


def amended_app(fresh_app, tmp_path: Path, name: str) -> tuple[Flask, FlaskClient]:
    app = fresh_app(name, sqlite=True)
    sync(app, amendment_from(tmp_path, TODAY))
    return app, app.test_client()


def test_reconsent_is_the_first_task_and_says_what_is_new(
    fresh_app, tmp_path: Path, read: Callable[..., Page]
) -> None:
    app = fresh_app("psam_amendment_pages", sqlite=True)
    client = app.test_client()
    sync(app, before_the_amendment(tmp_path))
    researcher = staff(app, "researcher")
    me, _ = joined(client, researcher)
    sync(app, amendment_from(tmp_path, TODAY))

    sign_in(client, me["Authorization"].removeprefix("Bearer "))
    home = read(client, "/p/")
    assert "The consent form has changed" in home.headings
    assert "Read and sign the new consent form" in home.links
    changes = client.get("/api/v1/consent/form").get_json()["changes"]
    for change in changes:
        assert change in home.text
    assert home.text.index("The consent form has changed") < home.text.index("Now")


def test_contact_details_go_to_the_vault_only_under_the_contact_clause(
    fresh_app, tmp_path: Path, read: Callable[..., Page]
) -> None:
    app, client = amended_app(fresh_app, tmp_path, "psam_amendment_contact")
    researcher = staff(app, "researcher")
    own, _ = joined(client, researcher)
    study_id = client.get("/api/v1/me", headers=own).get_json()["study_id"]
    sign_in(client, own["Authorization"].removeprefix("Bearer "))
    assert "Give or update your contact details" in read(client, "/p/").links

    page = read(client, "/p/contact")
    empty = client.post("/p/contact", data={"csrf_token": page.csrf}, headers=HTML)
    assert "Enter at least one way" in empty.get_data(as_text=True)
    bad = client.post(
        "/p/contact", data={"csrf_token": page.csrf, "email": "not-an-email"}, headers=HTML
    )
    assert "Email address:" in bad.get_data(as_text=True)
    form = {"csrf_token": page.csrf, "name": "Robin Ash", "email": "robin@example.org"}
    saved = client.post("/p/contact", data=form, headers=HTML)
    assert saved.status_code == 200 and "Thank you" in saved.get_data(as_text=True)
    shown = client.get(f"/api/v1/participants/{study_id}/contact", headers=researcher)
    assert shown.get_json() | {"phone": None} == {
        "study_id": study_id,
        "name": "Robin Ash",
        "email": "robin@example.org",
        "phone": None,
    }


def test_no_contact_page_without_the_contact_clause(
    fresh_app, tmp_path: Path, read: Callable[..., Page]
) -> None:
    app, client = amended_app(fresh_app, tmp_path, "psam_amendment_nocontact")
    researcher = staff(app, "researcher")
    own, receipt = joined(client, researcher, contact=False)
    assert receipt["clauses"]["c_audio_recording"] is False
    study_id = client.get("/api/v1/me", headers=own).get_json()["study_id"]
    sign_in(client, own["Authorization"].removeprefix("Bearer "))
    assert "Give or update your contact details" not in read(client, "/p/").links
    page = read(client, "/p/contact")
    assert "does not ask for your contact details" in page.text
    refused = client.post(
        "/p/contact", data={"csrf_token": page.csrf, "name": "Robin Ash"}, headers=HTML
    )
    assert refused.status_code == 403
    shown = client.get(f"/api/v1/participants/{study_id}/contact", headers=researcher)
    assert shown.status_code == 403


def test_a_skipped_question_gets_a_gentle_check_and_the_answers_can_still_be_sent(
    fresh_app, tmp_path: Path, read: Callable[..., Page]
) -> None:
    app, client = amended_app(fresh_app, tmp_path, "psam_amendment_skip")
    me, _ = joined(client, staff(app, "researcher"))
    sign_in(client, me["Authorization"].removeprefix("Bearer "))
    address = begin(client, read, "gad-7")
    while "/page/" in address:
        page = read(client, address)
        items = re.findall(r'name="item-(gad7_\d+)"', page.html)
        assert "skip any question" in read(client, "/p/questionnaires/baseline/gad-7").text
        address = answer(client, address, page, {i: 1 for i in items if i != "gad7_2"})
    check = read(client, address)
    assert check.h1 == "Check your answers"
    assert "You have left 1 question unanswered" in check.text
    assert "you may skip any question" in check.text
    sent = client.post(address, data={"csrf_token": check.csrf}, headers=HTML)
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/done")
    response_id = sent.headers["Location"].split("/")[-2]
    stored = client.get(f"/api/v1/me/responses/{response_id}", headers=me).get_json()
    assert stored["status"] == "submitted" and "gad7_2" not in stored["answers"]
    assert stored["scores"][0]["value"] is None  # withheld: an item was skipped

"""Answering on the pages: preamble, pages of a few questions, drafts, resume, check, submit."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import ask_all_required, valid_signature
from tests.web.conftest import HTML, Page
from tests.web.test_session import sign_in


def consented(client: FlaskClient, auth: Callable[..., dict[str, str]]) -> str:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    own = {"Authorization": f"Bearer {made['token']}"}
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=own).status_code
        == 201
    )
    sign_in(client, made["token"])
    return made["token"]


@pytest.fixture(name="consented")
def consented_fixture(client: FlaskClient, auth: Callable[..., dict[str, str]]) -> str:
    """A participant who has consented under the protocol in force, signed in."""
    return consented(client, auth)


def begin(client: FlaskClient, read: Callable[..., Page], instrument: str) -> str:
    """Open the questionnaire's first page; its address."""
    intro = read(client, f"/p/questionnaires/baseline/{instrument}")
    started = client.post(
        f"/p/questionnaires/baseline/{instrument}", data={"csrf_token": intro.csrf}
    )
    assert started.status_code == 303
    first = client.get(started.headers["Location"])
    assert first.status_code == 303
    return first.headers["Location"]


def answer(client: FlaskClient, address: str, page: Page, values: dict[str, object]) -> str:
    data = {"csrf_token": page.csrf, **{f"item-{k}": v for k, v in values.items()}}
    saved = client.post(address, data=data, headers=HTML)
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    address = saved.headers["Location"]
    if "/page/" not in address and not address.endswith("/check"):  # resume: where to go on
        address = client.get(address).headers["Location"]
    return address


def test_the_task_list_offers_the_next_open_questionnaire_as_the_main_action(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    page = read(client, "/p/")
    assert page.h1 == "Your questionnaires"
    assert any(link.startswith("Start ") for link in page.links)
    assert "Now" in page.headings


def test_a_questionnaire_is_asked_in_pages_with_each_question_a_legend(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    intro = read(client, "/p/questionnaires/baseline/phq-9")
    assert "Your answers are saved after each page" in intro.text
    address = begin(client, read, "phq-9")
    page = read(client, address)
    assert page.h1 == "Page 1 of 3"
    assert "Little interest or pleasure in doing things" in page._all("legend")
    assert "Not at all" in page.labels


def test_a_page_left_blank_names_each_question_in_the_error_summary(
    client: FlaskClient,
    auth: Callable[..., dict[str, str]],
    session: Session,
    instruments_copy: Path,
    read: Callable[..., Page],
) -> None:
    ask_all_required(instruments_copy, session)  # before consent: it is one of the tasks
    consented(client, auth)
    address = begin(client, read, "all-required")
    page = read(client, address)
    asked = re.findall(r'name="item-(r_\d)"', client.get(address).get_data(as_text=True))
    assert asked, "the first page asks something"
    refused = Page(
        client.post(address, data={"csrf_token": page.csrf}, headers=HTML).get_data(True)
    )
    assert refused.title.startswith("Error: ")
    assert refused.href("Choose one answer") == "#item-r_1"
    # In the summary and beside each question on the page.
    assert refused.text.count("Choose one answer") == 2 * len(set(asked))


def test_answers_are_saved_page_by_page_and_resume_at_the_first_unanswered_page(
    app: Flask, client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    address = begin(client, read, "phq-9")
    nxt = answer(client, address, read(client, address), {f"phq9_{i}": 0 for i in range(1, 5)})
    assert nxt.endswith("/page/2")
    # Another device, through the link: a new browser, the same access code.
    other = app.test_client()
    sign_in(other, consented)
    home = read(other, "/p/")
    carry_on = next(link for link in home.links if link.startswith("Carry on with"))
    intro = read(other, home.href(carry_on))
    assert "Continue" in intro.text
    resumed = other.post(home.href(carry_on), data={"csrf_token": intro.csrf})
    again = other.get(resumed.headers["Location"])
    assert again.headers["Location"].endswith("/page/2")


def test_check_your_answers_lists_each_answer_with_a_change_link_then_submits(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    address = begin(client, read, "gad-7")
    while "/page/" in address:
        page = read(client, address)
        items = re.findall(r'name="item-(gad7_\d+)"', page.html)
        address = answer(client, address, page, dict.fromkeys(items, 1))
    check = read(client, address)
    assert check.h1 == "Check your answers"
    changes = [link for link in check.links if link.startswith("Change")]
    definition = client.get("/api/v1/instruments/gad-7/versions/1.0.0").get_json()
    assert changes == [f"Change {item['text']}" for item in definition["definition"]["items"]]
    assert "Several days" in check.text
    sent = client.post(address, data={"csrf_token": check.csrf}, headers=HTML)
    assert sent.status_code == 303
    done = read(client, sent.headers["Location"])
    assert "Your answers have been sent" in done.text
    assert "Help is available now" not in done.text


def test_an_answer_that_raises_an_alert_shows_the_signposting_first(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    address = begin(client, read, "phq-9")
    while "/page/" in address:
        page = read(client, address)
        items = re.findall(r'name="item-(phq9_\d+)"', page.html)
        address = answer(client, address, page, {i: (2 if i == "phq9_9" else 0) for i in items})
    check = read(client, address)
    done = client.post(address, data={"csrf_token": check.csrf}, headers=HTML)
    result = read(client, done.headers["Location"])
    body = result.text.split("Skip to main content", 1)[1]  # after the page's title
    assert body.index("Help is available now") < body.index("Your answers have been sent")
    assert result.href("116 123") == "tel:116123"


def questions(page: Page) -> list[str]:
    """The ids of the questions a page shows (not those waiting hidden for an answer)."""
    found = re.findall(r'<div class="psam-question" data-item="([^"]+)"([^>]*)>', page.html)
    return [item for item, rest in found if " hidden" not in rest]


def fill(client: FlaskClient, read: Callable[..., Page], instrument: str, code: int) -> str:
    """Answer every question of a questionnaire with one code; the check page's address."""
    address = begin(client, read, instrument)
    while "/page/" in address:
        page = read(client, address)
        address = answer(client, address, page, dict.fromkeys(questions(page), code))
    return address


def change_link(page: Page, question: str) -> str:
    """The address of the "Change" link of a question on the check page."""
    pattern = r'href="([^"]+)"[^>]*>\s*Change\s*<span[^>]*>\s*' + re.escape(question)
    found = re.search(pattern, page.html)
    assert found, f"no change link for {question!r}"
    return found.group(1)


def test_a_change_link_leads_to_the_question_and_back_to_the_check_page(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    check_address = fill(client, read, "gad-7", 1)
    check = read(client, check_address)
    definition = client.get("/api/v1/instruments/gad-7/versions/1.0.0").get_json()
    sixth = definition["definition"]["items"][5]
    link = change_link(check, sixth["text"])
    address, _, fragment = link.partition("#")
    assert address.endswith("/page/2/change")
    assert fragment == "item-gad7_6"
    page = read(client, address)
    assert f'id="{fragment}"' in page.html  # the fragment names the question's first input
    assert "Go back to check your answers" in page.links
    assert page._parser.hidden["after"] == "check"
    data = {"csrf_token": page.csrf, "after": "check"}
    data |= {f"item-{i}": "3" if i == "gad7_6" else "1" for i in questions(page)}
    saved = client.post(address.removesuffix("/change"), data=data, headers=HTML)
    assert saved.status_code == 303
    back = client.get(saved.headers["Location"])
    assert back.headers["Location"] == check_address
    again = read(client, check_address)
    assert "Nearly every day" in again.text


def test_a_change_that_brings_in_a_question_asks_it_before_the_check_page(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    check_address = fill(client, read, "gad-7", 0)
    check = read(client, check_address)
    assert "Change If you checked off any problems" not in " ".join(check.links)
    address = change_link(check, "Not being able to stop or control worrying").partition("#")[0]
    page = read(client, address)
    data = {"csrf_token": page.csrf, "after": "check"}
    data |= {f"item-{i}": "2" if i == "gad7_2" else "0" for i in questions(page)}
    saved = client.post(address.removesuffix("/change"), data=data, headers=HTML)
    ahead = client.get(saved.headers["Location"]).headers["Location"]
    assert ahead.endswith("/page/2")
    assert "If you checked off any problems" in read(client, ahead).text


def test_a_question_an_answer_on_the_page_may_bring_in_waits_hidden_on_that_page(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    address = begin(client, read, "about-you")
    page = read(client, address)
    waiting = re.search(r'<div class="psam-question" data-item="ay_role_other"[^>]*>', page.html)
    assert waiting, "the question about another role is on the page"
    assert " hidden" in waiting.group(0)
    assert 'data-enable-when=\'{"item": "ay_role", "op": "==", "value": 3}\'' in (waiting.group(0))
    shown = re.search(r'<div class="psam-question" data-item="ay_role"[^>]*>', page.html)
    assert shown and " hidden" not in shown.group(0)
    assert "/p/assets/live.mjs" in page.html


def save_about_you_first_page(
    client: FlaskClient, read: Callable[..., Page], **answers: str
) -> str:
    """Save the first page of the about-you questionnaire with these answers; its address."""
    address = begin(client, read, "about-you")
    page = read(client, address)
    data = {"ay_age_band": "1", "ay_months_since": "2", **answers}
    data = {"csrf_token": page.csrf, **{f"item-{k}": v for k, v in data.items()}}
    assert client.post(address, data=data, headers=HTML).status_code == 303
    return address


def test_without_the_script_the_server_brings_the_question_in_after_the_save(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    address = save_about_you_first_page(client, read, ay_role="3")
    again = read(client, address)
    shown = re.search(r'<div class="psam-question" data-item="ay_role_other"[^>]*>', again.html)
    assert shown and " hidden" not in shown.group(0)


def test_an_answer_given_to_a_question_the_page_leaves_out_is_not_kept(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    address = save_about_you_first_page(client, read, ay_role="1", ay_role_other="a description")
    response_id = address.split("/")[3]
    own = {"Authorization": f"Bearer {consented}"}
    draft = client.get(f"/api/v1/me/responses/{response_id}", headers=own).get_json()
    assert draft["answers"]["ay_role"] == 1
    assert "ay_role_other" not in draft["answers"]

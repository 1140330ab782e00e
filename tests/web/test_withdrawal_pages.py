"""Leaving the study on the pages: three scopes in plain words, a confirmation, the outcome."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.conftest import valid_signature
from tests.web.conftest import HTML, Page
from tests.web.test_session import sign_in


@pytest.fixture
def consented(client: FlaskClient, auth: Callable[..., dict[str, str]]) -> str:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    own = {"Authorization": f"Bearer {made['token']}"}
    signed = client.post("/api/v1/me/consent", json=valid_signature(client), headers=own)
    assert signed.status_code == 201
    sign_in(client, made["token"])
    return made["token"]


def choose(client: FlaskClient, read: Callable[..., Page], scope: str) -> Page:
    page = read(client, "/p/withdraw")
    answer = client.post("/p/withdraw", data={"csrf_token": page.csrf, "scope": scope})
    return Page(answer.get_data(as_text=True))


def test_the_leave_page_explains_the_three_choices(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    page = read(client, "/p/withdraw")
    assert page.h1 == "Leave the study"
    assert "What would you like to do?" in page._all("legend")
    for label in (
        "Stop contacting me",
        "Stop taking part",
        "Stop taking part and delete my answers",
    ):
        assert label in page.labels
    assert "Leave the study" in read(client, "/p/").links


def test_continuing_without_a_choice_asks_for_one(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    page = choose(client, read, "")
    assert page.href("Choose what you would like to do") == "#scope"


def test_a_choice_is_confirmed_before_anything_happens(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    page = choose(client, read, "stop")
    assert page.h1 == "Are you sure?"
    assert "Stay in the study" in page.links
    assert read(client, "/p/").h1 == "Your questionnaires"  # nothing has changed yet


def test_stopping_says_the_answers_stay_and_records_the_withdrawal(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    confirm = choose(client, read, "stop")
    done = client.post(
        "/p/withdraw/confirm", data={"csrf_token": confirm.csrf, "scope": "stop"}, headers=HTML
    )
    page = Page(done.get_data(as_text=True))
    assert "You have left the study" in page.text
    own = {"Authorization": f"Bearer {consented}"}
    assert client.get("/api/v1/me", headers=own).get_json()["consent"]["withdrawal"] == "stop"
    again = choose(client, read, "stop")
    twice = client.post("/p/withdraw/confirm", data={"csrf_token": again.csrf, "scope": "stop"})
    assert Page(twice.get_data(as_text=True)).h1 == "You cannot do this"


def test_erasing_says_why_the_link_no_longer_works_and_the_link_stops(
    client: FlaskClient, consented: str, read: Callable[..., Page]
) -> None:
    confirm = choose(client, read, "stop-and-erase")
    done = client.post(
        "/p/withdraw/confirm",
        data={"csrf_token": confirm.csrf, "scope": "stop-and-erase"},
        headers=HTML,
    )
    page = Page(done.get_data(as_text=True))
    assert "Your answers have been deleted" in page.text
    assert "Your link no longer works" in page.text
    assert client.get("/p/", headers=HTML).status_code == 401
    start = read(client, "/p/start")
    refused = client.post("/p/start", data={"csrf_token": start.csrf, "access_code": consented})
    said = Page(refused.get_data(as_text=True)).text
    assert "This access code does not work" in said
    assert "when you leave the study and your answers are deleted" in said

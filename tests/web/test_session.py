"""The link, the session cookie and the CSRF token: who gets in, for how long, and that the
token never reaches a log or a URL the server sees."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import pytest
from flask import Flask, request, request_started
from flask.testing import FlaskClient

from service.web import session as web_session
from tests.web.conftest import HTML, Page

Enrolled = tuple[str, str, str]  # study ID, token, link


@pytest.fixture
def enrolled(client: FlaskClient, auth: Callable[..., dict[str, str]]) -> Enrolled:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    return made["study_id"], made["token"], made["link"]


def sign_in(client: FlaskClient, token: str) -> None:
    start = Page(client.get("/p/start", headers=HTML).get_data(as_text=True))
    answer = client.post(
        "/p/start", data={"csrf_token": start.csrf, "access_code": token}, headers=HTML
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] in ("/p/", "/p/welcome")


def test_the_enrolment_answer_carries_the_link_with_the_token_in_its_fragment(
    app: Flask, enrolled: Enrolled
) -> None:
    _, token, link = enrolled
    assert link == f"{app.config['PSAM_PUBLIC_URL']}/p/start#token={token}"
    assert "?" not in link


def test_a_reissued_token_comes_with_a_new_link(
    client: FlaskClient, auth: Callable[..., dict[str, str]], enrolled: Enrolled
) -> None:
    study_id, old, _ = enrolled
    made = client.post(f"/api/v1/participants/{study_id}/token", headers=auth("researcher"))
    body = made.get_json()
    assert body["link"].endswith(f"/p/start#token={body['token']}")
    assert old not in body["link"]


def test_the_access_code_signs_the_participant_in_to_their_questionnaires(
    client: FlaskClient, enrolled: Enrolled, read: Callable[..., Page]
) -> None:
    sign_in(client, enrolled[1])
    page = read(client, "/p/")
    assert page.h1 == "Your questionnaires"
    assert "Read and sign the consent form" in page.links
    assert "Sign out" in page.text


def test_the_session_cookie_is_httponly_strict_and_limited_to_the_pages(
    client: FlaskClient, enrolled: Enrolled
) -> None:
    sign_in(client, enrolled[1])
    cookie = client.get_cookie(web_session.COOKIE, path="/p/")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Strict"
    assert not cookie.secure  # the test service is plain http
    assert enrolled[1] not in cookie.value


def test_the_cookie_is_secure_when_the_public_address_is_https(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PSAM_PUBLIC_URL", "https://study.example.org")
    client.get("/p/start", headers=HTML)
    cookie = client.get_cookie(web_session.COOKIE, path="/p/")
    assert cookie is not None
    assert cookie.secure


def test_a_wrong_code_is_named_in_the_error_summary_and_linked_to_the_field(
    client: FlaskClient, read: Callable[..., Page]
) -> None:
    start = read(client, "/p/start")
    answer = client.post(
        "/p/start", data={"csrf_token": start.csrf, "access_code": "letmein"}, headers=HTML
    )
    page = Page(answer.get_data(as_text=True))
    assert page.title.startswith("Error: ")
    assert "There is a problem" in page.text
    assert page.href("Enter the access code exactly as it appears") == "#access-code"
    assert client.get("/p/", headers=HTML).status_code == 401


def test_an_empty_code_asks_for_the_code(client: FlaskClient, read: Callable[..., Page]) -> None:
    start = read(client, "/p/start")
    answer = client.post("/p/start", data={"csrf_token": start.csrf, "access_code": ""})
    assert "Enter the access code from your letter or email" in Page(answer.get_data(True)).links


def test_a_form_without_the_csrf_token_is_refused_and_signs_nobody_in(
    client: FlaskClient, enrolled: Enrolled
) -> None:
    client.get("/p/start", headers=HTML)
    answer = client.post("/p/start", data={"access_code": enrolled[1]}, headers=HTML)
    assert answer.status_code == 400
    assert Page(answer.get_data(as_text=True)).h1 == "Sorry, there is a problem with this page"
    assert client.get("/p/", headers=HTML).status_code == 401


def test_a_csrf_token_from_another_browser_is_refused(
    app: Flask, client: FlaskClient, enrolled: Enrolled
) -> None:
    other = app.test_client()
    theirs = Page(other.get("/p/start", headers=HTML).get_data(as_text=True)).csrf
    client.get("/p/start", headers=HTML)
    answer = client.post("/p/start", data={"csrf_token": theirs, "access_code": enrolled[1]})
    assert answer.status_code == 400


def test_after_30_idle_minutes_the_session_has_ended(
    app: Flask, client: FlaskClient, enrolled: Enrolled, read: Callable[..., Page]
) -> None:
    sign_in(client, enrolled[1])
    cookie = client.get_cookie(web_session.COOKIE, path="/p/")
    assert cookie is not None
    with app.test_request_context():
        found = web_session.decode(cookie.value, int(time.time()))
        assert found is not None
        stale = web_session.WebSession(
            found.csrf, int(time.time()) - web_session.IDLE_SECONDS - 1, found.token_id
        )
        client.set_cookie(web_session.COOKIE, web_session.encode(stale), path="/p/")
    page = read(client, "/p/", status=401)
    assert page.h1 == "Your session has ended"
    assert "enter your access code" in page.links


def test_a_forged_cookie_signs_nobody_in(
    app: Flask, client: FlaskClient, enrolled: Enrolled
) -> None:
    sign_in(client, enrolled[1])
    cookie = client.get_cookie(web_session.COOKIE, path="/p/")
    assert cookie is not None
    with app.test_request_context():
        mine = web_session.decode(cookie.value, int(time.time()))
        assert mine is not None
        forged = web_session.encode(web_session.WebSession("x", int(time.time()), uuid.uuid4()))
    # Another session's content under this session's MAC.
    tampered = forged.split(".")[0] + "." + cookie.value.split(".")[1]
    client.set_cookie(web_session.COOKIE, tampered, path="/p/")
    assert client.get("/p/", headers=HTML).status_code == 401


def test_signing_out_ends_the_session(
    client: FlaskClient, enrolled: Enrolled, read: Callable[..., Page]
) -> None:
    sign_in(client, enrolled[1])
    home = read(client, "/p/")
    answer = client.post("/p/sign-out", data={"csrf_token": home.csrf}, headers=HTML)
    assert Page(answer.get_data(as_text=True)).h1 == "You have signed out"
    assert client.get("/p/", headers=HTML).status_code == 401


def _copy_of_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(web_session.COOKIE, path="/p/")
    assert cookie is not None
    return cookie.value


def test_a_cookie_copied_before_sign_out_gets_the_session_ended_page_after_it(
    app: Flask, client: FlaskClient, enrolled: Enrolled, read: Callable[..., Page]
) -> None:
    sign_in(client, enrolled[1])
    home = read(client, "/p/")
    copied = _copy_of_cookie(client)
    thief = app.test_client()
    thief.set_cookie(web_session.COOKIE, copied, path="/p/")
    assert read(thief, "/p/").h1 == "Your questionnaires"  # the copy works while signed in
    client.post("/p/sign-out", data={"csrf_token": home.csrf}, headers=HTML)
    page = read(thief, "/p/", status=401)
    assert page.h1 == "Your session has ended"
    assert read(thief, "/p/consent", status=401).h1 == "Your session has ended"
    # A form posted with the copy changes nothing either.
    answer = thief.post("/p/withdraw", data={"csrf_token": home.csrf, "scope": "stop"})
    assert answer.status_code == 401


def test_after_signing_out_the_link_signs_in_again_with_a_working_session(
    client: FlaskClient, enrolled: Enrolled, read: Callable[..., Page]
) -> None:
    sign_in(client, enrolled[1])
    home = read(client, "/p/")
    client.post("/p/sign-out", data={"csrf_token": home.csrf}, headers=HTML)
    sign_in(client, enrolled[1])
    assert read(client, "/p/").h1 == "Your questionnaires"


def test_a_stale_copy_cannot_sign_out_the_new_session(
    app: Flask, client: FlaskClient, enrolled: Enrolled, read: Callable[..., Page]
) -> None:
    sign_in(client, enrolled[1])
    home = read(client, "/p/")
    copied = _copy_of_cookie(client)
    client.post("/p/sign-out", data={"csrf_token": home.csrf}, headers=HTML)
    sign_in(client, enrolled[1])
    thief = app.test_client()
    thief.set_cookie(web_session.COOKIE, copied, path="/p/")
    thief.post("/p/sign-out", data={"csrf_token": home.csrf}, headers=HTML)
    assert read(client, "/p/").h1 == "Your questionnaires"


def test_a_new_link_ends_the_sessions_of_the_old_one(
    client: FlaskClient, auth: Callable[..., dict[str, str]], enrolled: Enrolled
) -> None:
    sign_in(client, enrolled[1])
    client.post(f"/api/v1/participants/{enrolled[0]}/token", headers=auth("researcher"))
    assert client.get("/p/", headers=HTML).status_code == 401


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_token_reaches_no_log_line_and_no_request_line_on_the_way_in(
    app: Flask, client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    """What a server or proxy logs of a request is its request line (gunicorn's access log)
    and what the service logs; the token must be in neither, from the link to the session."""
    records = _Records()
    loggers = [logging.getLogger("service"), logging.getLogger()]
    for logger in loggers:
        logger.addHandler(records)
    request_lines: list[str] = []

    def seen(sender: Flask, **_: object) -> None:
        request_lines.append(request.full_path)

    request_started.connect(seen, app)
    try:
        made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
        address, _, fragment = made["link"].partition("#")
        assert fragment == f"token={made['token']}"
        read(client, address.removeprefix(app.config["PSAM_PUBLIC_URL"]))  # what a browser asks
        sign_in(client, made["token"])
        read(client, "/p/")
        client.post("/p/start", data={"access_code": made["token"]})  # refused: no CSRF token
        logging.getLogger("service.web").warning("a line, to show that lines are captured")
    finally:
        request_started.disconnect(seen, app)
        for logger in loggers:
            logger.removeHandler(records)
    assert len(request_lines) == 6
    assert records.lines
    secret = made["token"].removeprefix("psam_p_")
    assert [line for line in records.lines + request_lines if secret in line] == []

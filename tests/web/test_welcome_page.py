"""The welcome page: what the study is, from the information sheet the consent form names,
before the consent form; where a participant without consent lands."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from service.config import PROJECT_ROOT
from service.web.welcome import SHEETS_FILE, parse_sheets
from tests.web.conftest import HTML, Page


def _enrol(client: FlaskClient, auth: Callable[..., dict[str, str]]) -> str:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    return str(made["token"])


def _sign_in(client: FlaskClient, token: str) -> str:
    """Where the access code leads."""
    start = Page(client.get("/p/start", headers=HTML).get_data(as_text=True))
    answer = client.post(
        "/p/start", data={"csrf_token": start.csrf, "access_code": token}, headers=HTML
    )
    assert answer.status_code == 303
    return str(answer.headers["Location"])


def test_a_participant_without_consent_lands_on_the_welcome_page_first(
    client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    assert _sign_in(client, _enrol(client, auth)) == "/p/welcome"
    page = read(client, "/p/welcome")
    assert page.h1 == "Peer Support After Miscarriage: what the study is"
    assert "What you would do" in page.headings
    assert "You can stop at any time without saying why" in page.text
    form = client.get("/api/v1/consent/form").get_json()  # the form in force names the sheet
    assert f"version {form['information_sheet_version']}" in page.text
    assert page.href("Continue to the consent form") == "/p/consent"
    assert page.links.count("Continue to the consent form") == 1


def test_a_participant_who_has_signed_lands_on_their_questionnaires(
    client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    token = _enrol(client, auth)
    _sign_in(client, token)
    form = client.get("/api/v1/consent/form").get_json()
    page = read(client, "/p/consent")
    client.post(
        "/p/consent",
        data={
            "csrf_token": page.csrf,
            "form_version": form["version"],
            "form_hash": form["sha256"],
            "clauses": [c["id"] for c in form["clauses"]],
            "typed_name": "Sam Participant",
        },
    )
    client.post("/p/sign-out", data={"csrf_token": read(client, "/p/").csrf})
    assert _sign_in(client, token) == "/p/"


def test_every_consent_form_shipped_has_its_information_sheet() -> None:
    folder = PROJECT_ROOT / "instruments"
    sheets = parse_sheets(json.loads((folder / SHEETS_FILE).read_text(encoding="utf-8")))
    for path in sorted((folder / "consent").glob("*.json")):
        version = json.loads(path.read_text(encoding="utf-8"))["information_sheet_version"]
        assert version in sheets, f"{path.name} names sheet {version!r}, which has no text"
        assert sheets[version].sections


def test_a_sheet_without_its_sections_is_refused() -> None:
    with pytest.raises(ValueError, match="sections"):
        parse_sheets({"2.0": {"title": "t", "summary": "s"}})
    with pytest.raises(ValueError, match="object"):
        parse_sheets(["2.0"])

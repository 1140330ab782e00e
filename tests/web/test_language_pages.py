# ruff: noqa: RUF001 (the Welsh catalogue writes its apostrophes as U+2019)
"""The pages in Welsh: the switch on every page, the choice remembered before and after
sign-in, Accept-Language, and the ``lang`` attributes of Welsh pages and English fragments."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.config import PROJECT_ROOT
from service.models import LanguageChoice
from tests.conftest import valid_signature
from tests.web.conftest import HTML, Page

INSTRUMENTS = PROJECT_ROOT / "instruments"
WELSH_SIGN_IN = "Mewngofnodi gyda’ch cod mynediad"
ENGLISH_SIGN_IN = "Sign in with your access code"


def html_lang(page: Page) -> str:
    found = re.search(r'<html lang="([^"]+)"', page.html)
    assert found is not None
    return found.group(1)


def main_html(page: Page) -> str:
    """The page's main part: where the texts are (the header holds the switch)."""
    return page.html.split("<main", 1)[1].split("</main>", 1)[0]


def switch_link(page: Page) -> tuple[str, str, str]:
    """The header's language link: where it leads, its text's lang and its text."""
    found = re.search(
        r'<a[^>]*href="(/p/language/[^"]*)"[^>]*>\s*<span lang="([^"]+)">([^<]+)</span>',
        page.html,
    )
    assert found is not None, "no language switch on the page"
    href, lang, text = found.groups()
    return href, lang, text


def switch(client: FlaskClient, language: str, back: str) -> str:
    """Follow the switch to ``language`` from the page at ``back``; where it leads."""
    answer = client.get(f"/p/language/{language}/{back.removeprefix('/p/')}", headers=HTML)
    assert answer.status_code == 303
    return str(answer.headers["Location"])


def enrol(client: FlaskClient, auth: Callable[..., dict[str, str]]) -> tuple[str, str]:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    return str(made["study_id"]), str(made["token"])


def sign_in(client: FlaskClient, token: str, headers: dict[str, str] | None = None) -> str:
    start = Page(client.get("/p/start", headers={**HTML, **(headers or {})}).get_data(True))
    answer = client.post(
        "/p/start",
        data={"csrf_token": start.csrf, "access_code": token},
        headers={**HTML, **(headers or {})},
    )
    assert answer.status_code == 303
    return str(answer.headers["Location"])


def consent_by_api(client: FlaskClient, token: str) -> None:
    own = {"Authorization": f"Bearer {token}"}
    answer = client.post("/api/v1/me/consent", json=valid_signature(client), headers=own)
    assert answer.status_code == 201


def test_the_first_page_offers_welsh_and_switching_keeps_the_person_on_it(
    client: FlaskClient, read: Callable[..., Page]
) -> None:
    page = read(client, "/p/start")
    assert html_lang(page) == "en" and page.h1 == ENGLISH_SIGN_IN
    assert switch_link(page) == ("/p/language/cy/start", "cy", "Cymraeg")
    assert switch(client, "cy", "/p/start") == "/p/start"
    welsh = read(client, "/p/start")
    assert html_lang(welsh) == "cy"
    assert welsh.h1 == WELSH_SIGN_IN
    assert "Cael help nawr" in welsh.links  # the layout's words too
    assert switch_link(welsh) == ("/p/language/en/start", "en", "English")
    # The help page, and every other page, has the switch and stays in Welsh.
    help_page = read(client, "/p/help")
    assert help_page.h1 == "Cael help nawr"
    assert switch_link(help_page)[0] == "/p/language/en/help"
    assert switch(client, "en", "/p/help") == "/p/help"
    assert read(client, "/p/help").h1 == "Get help now"


@pytest.mark.parametrize(
    ("header", "h1"),
    [
        ("cy", WELSH_SIGN_IN),
        ("cy-GB,cy;q=0.9,en;q=0.8", WELSH_SIGN_IN),
        ("fr-FR, cy;q=0.5", WELSH_SIGN_IN),
        ("en-GB,cy;q=0.9", ENGLISH_SIGN_IN),
        ("fr, de", ENGLISH_SIGN_IN),
        ("cy;q=0", ENGLISH_SIGN_IN),
    ],
)
def test_without_a_choice_the_browser_language_decides(
    client: FlaskClient, header: str, h1: str
) -> None:
    answer = client.get("/p/start", headers={**HTML, "Accept-Language": header})
    assert Page(answer.get_data(as_text=True)).h1 == h1


def test_a_choice_beats_the_browser_language(client: FlaskClient) -> None:
    english_browser = {**HTML, "Accept-Language": "en-GB"}
    switch(client, "cy", "/p/start")
    again = Page(client.get("/p/start", headers=english_browser).get_data(as_text=True))
    assert again.h1 == WELSH_SIGN_IN


def test_a_choice_made_before_sign_in_is_kept_after_it_and_on_another_device(
    client: FlaskClient,
    auth: Callable[..., dict[str, str]],
    read: Callable[..., Page],
    session: Session,
    app: object,
) -> None:
    study_id, token = enrol(client, auth)
    switch(client, "cy", "/p/start")
    assert sign_in(client, token) == "/p/welcome"
    welcome = read(client, "/p/welcome")
    assert html_lang(welcome) == "cy"
    assert "Ymlaen i’r ffurflen gydsynio" in welcome.links
    # The information sheet in Welsh (instruments/information-sheets.cy-GB.json).
    assert welcome.h1 == "Cymorth gan Gymheiriaid ar ôl Camesgoriad: beth yw'r astudiaeth"
    assert session.get(LanguageChoice, study_id).language == "cy"  # type: ignore[union-attr]
    # Another device, whose browser asks for English, signs in with the same link.
    other = client.application.test_client()
    sign_in(other, token, {"Accept-Language": "en-GB"})
    page = Page(other.get("/p/welcome", headers=HTML).get_data(as_text=True))
    assert html_lang(page) == "cy"
    # Switching back while signed in is stored too, and stays after signing out.
    switch(other, "en", "/p/welcome")
    session.expire_all()
    assert session.get(LanguageChoice, study_id).language == "en"  # type: ignore[union-attr]
    home = Page(other.get("/p/welcome", headers=HTML).get_data(as_text=True))
    other.post("/p/sign-out", data={"csrf_token": home.csrf}, headers=HTML)
    assert Page(other.get("/p/start", headers=HTML).get_data(as_text=True)).h1 == (ENGLISH_SIGN_IN)


def test_the_switch_goes_back_only_to_a_page_of_ours(client: FlaskClient) -> None:
    for elsewhere, lands in (
        ("https:/example.org/p/start", "/p/start"),
        ("api/v1/me", "/p/start"),
        ("sign-out", "/p/start"),  # a form's address, not a page
        ("nowhere", "/p/start"),
        ("answers/..%2F..%2Fapi", "/p/start"),
        ("consent", "/p/consent"),  # a page that will ask this browser to sign in
    ):
        answer = client.get(f"/p/language/cy/{elsewhere}", headers=HTML)
        assert (answer.status_code, answer.headers["Location"]) == (303, lands), elsewhere
    assert client.get("/p/language/cy", headers=HTML).headers["Location"] == "/p/"


def test_an_unknown_language_is_not_found_and_changes_nothing(
    client: FlaskClient, read: Callable[..., Page]
) -> None:
    assert client.get("/p/language/fr/start", headers=HTML).status_code == 404
    assert read(client, "/p/start").h1 == ENGLISH_SIGN_IN


def test_the_consent_form_is_in_welsh_and_signing_records_the_welsh_text(
    client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    _, token = enrol(client, auth)
    switch(client, "cy", "/p/start")
    sign_in(client, token)
    welsh = client.get("/api/v1/consent/form?lang=cy-GB").get_json()
    page = read(client, "/p/consent")
    assert html_lang(page) == "cy" and page.h1 == welsh["title"]
    assert '<span lang="en">' not in main_html(page)  # every text on it is in Welsh
    for clause in welsh["clauses"]:
        assert clause["text"] in page.text
    assert "Beth mae llofnodi’n ei olygu" in page.headings
    data = {
        "csrf_token": page.csrf,
        "form_version": welsh["version"],
        "form_hash": welsh["sha256"],
        "form_language": welsh["language"],
        "text_hash": welsh["text_sha256"],
        "clauses": [c["id"] for c in welsh["clauses"]],
        "typed_name": "Sam Participant",
    }
    answer = client.post("/p/consent", data=data, headers=HTML)
    assert answer.status_code == 303
    receipt = read(client, answer.headers["Location"])
    assert html_lang(receipt) == "cy"
    assert "Iaith y ffurflen Cymraeg (cy-GB)" in receipt.text
    assert f"Ôl bys digidol y testun a ddarllenoch {welsh['text_sha256']}" in receipt.text
    assert f"{welsh['clauses'][0]['text']}: Ie" in receipt.text
    english = client.get("/api/v1/consent/form?lang=en-GB").get_json()
    assert english["text_sha256"] != welsh["text_sha256"]


def test_a_welsh_form_with_an_english_text_hash_is_refused(
    client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    _, token = enrol(client, auth)
    switch(client, "cy", "/p/start")
    sign_in(client, token)
    welsh = client.get("/api/v1/consent/form?lang=cy-GB").get_json()
    english = client.get("/api/v1/consent/form?lang=en-GB").get_json()
    page = read(client, "/p/consent")
    data = {
        "csrf_token": page.csrf,
        "form_version": welsh["version"],
        "form_hash": welsh["sha256"],
        "form_language": "cy-GB",
        "text_hash": english["text_sha256"],
        "clauses": [c["id"] for c in welsh["clauses"]],
        "typed_name": "Sam Participant",
    }
    answer = client.post("/p/consent", data=data, headers=HTML)
    assert answer.status_code == 200
    refused = Page(answer.get_data(as_text=True))
    assert refused.title.startswith("Gwall:")
    assert "Mae’r ffurflen gydsynio wedi newid" in refused.text
    assert client.get("/p/consent/receipt", headers=HTML).status_code == 404


def test_a_standard_scale_stays_english_with_its_lang_on_a_welsh_page(
    client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    _, token = enrol(client, auth)
    consent_by_api(client, token)
    switch(client, "cy", "/p/start")
    sign_in(client, token)
    home = read(client, "/p/")
    assert html_lang(home) == "cy" and home.h1 == "Eich holiaduron"
    # Welsh titles plain; the PHQ-9's English title marked as English.
    assert "Amdanoch chi" in home.links
    assert re.search(r'<span lang="en">Patient Health Questionnaire[^<]*</span>', home.html)
    intro = read(client, "/p/questionnaires/baseline/phq-9")
    assert html_lang(intro) == "cy"
    assert re.search(r'<h1><span lang="en">Patient Health Questionnaire', intro.html)
    assert "Mae'r holiadur hwn yn Saesneg yn unig." in intro.text
    answer = client.post(
        "/p/questionnaires/baseline/phq-9", data={"csrf_token": intro.csrf}, headers=HTML
    )
    first = client.get(answer.headers["Location"], headers=HTML)
    page = read(client, first.headers["Location"])
    assert html_lang(page) == "cy"
    assert page.h1.startswith("Tudalen 1 o ")
    legends = re.findall(r"<legend[^>]*>\s*(.*?)\s*</legend>", page.html, re.S)
    assert legends and all('<span lang="en">' in legend for legend in legends)
    assert '<span lang="en">Not at all</span>' in page.html  # an option's label
    assert "Cadw a pharhau" in page.html


def test_a_welsh_questionnaire_has_no_english_fragment(
    client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    _, token = enrol(client, auth)
    consent_by_api(client, token)
    switch(client, "cy", "/p/start")
    sign_in(client, token)
    intro = read(client, "/p/questionnaires/baseline/about-you")
    assert intro.h1 == "Amdanoch chi" and '<span lang="en">' not in main_html(intro)
    answer = client.post(
        "/p/questionnaires/baseline/about-you", data={"csrf_token": intro.csrf}, headers=HTML
    )
    first = client.get(answer.headers["Location"], headers=HTML)
    page = read(client, first.headers["Location"])
    assert html_lang(page) == "cy" and '<span lang="en">' not in main_html(page)
    definition = json.loads((INSTRUMENTS / "about-you" / "1.1.1.json").read_text("utf-8"))
    first_item = definition["items"][0]["text"]["cy-GB"]
    assert first_item in page.text


def test_the_staff_console_stays_english_whatever_the_browser_asks(
    client: FlaskClient,
) -> None:
    answer = client.get("/staff/sign-in", headers={**HTML, "Accept-Language": "cy"})
    page = Page(answer.get_data(as_text=True))
    assert html_lang(page) == "en"
    assert "/p/language" not in page.html

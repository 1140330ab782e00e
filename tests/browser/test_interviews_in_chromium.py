"""Interviews in a real browser (Debian's chromium, a real gunicorn): the researcher offers a
time and invites on the console's schedule page; the participant, from the link, follows the
home page's notice to the invitation, chooses the time with a radio, checks and confirms;
the schedule then shows the slot booked. axe-core runs on every page (0 violations), and no
request leaves the service's origin. Screenshots: build/screenshots/interviews/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.browser.journey import Enrolled, Journey, Site, heading, main_button, open_link
from tests.browser.test_welsh_journey_in_chromium import HOME, look, sign_in_welsh
from tests.system.harness import bearer, call

pytestmark = pytest.mark.system


def consent_to_everything(site: Site, token: str) -> None:
    _, form = call(site.url, "GET", "/api/v1/consent/form")
    body = {
        "form_version": form["version"],
        "form_hash": form["sha256"],
        "clauses": {c["id"]: True for c in form["clauses"]},
        "typed_name": "Sam Participant",
    }
    status, answer = call(site.url, "POST", "/api/v1/me/consent", body, bearer(token))
    assert status == 201, answer


def consented(browser: Browser, site: Site, folder: str) -> tuple[Enrolled, Journey]:
    """A participant who agreed to everything, and a journey keeping its screenshots in
    ``folder``."""
    person = site.enrol()
    consent_to_everything(site, person.token)
    return person, Journey(browser, site, folder)


def axe_violations(page: Page) -> list[str]:
    return [v["id"] for v in Axe().run(page).response["violations"]]


def offer_and_invite(
    journey: Journey, person: Enrolled, day: str, time: str, violations: dict[str, list[str]]
) -> Page:
    """On the console: add a slot at ``day`` ``time`` (45 minutes, in person) and invite the
    person by phone; the console's page, axe-checked on the way."""
    console = journey.device()
    console.goto(f"{journey.site.url}/staff/sign-in")
    console.get_by_label("Staff token").fill(journey.site.researcher)
    main_button(console).click()
    console.get_by_role("link", name="Interviews").first.click()
    expect(heading(console)).to_have_text("Interviews")
    violations["schedule-empty"] = axe_violations(console)

    console.get_by_label("Date (UTC)").fill(day)
    console.get_by_label("Time (UTC)").fill(time)
    console.get_by_label("Length in minutes").fill("45")
    console.get_by_label("In person").check()
    interviewer = console.get_by_label("Interviewer (a researcher's token)")
    interviewer.select_option(index=1)
    console.get_by_role("button", name="Add the slot").click()
    fieldset = console.locator("fieldset", has_text=f"Invite {person.study_id}")
    fieldset.get_by_label("By phone (record a call made)").check()
    console.get_by_role("button", name=f"Invite {person.study_id}").click()
    expect(console.get_by_role("link", name=re.compile(person.study_id))).to_be_visible()
    violations["schedule-with-slot"] = axe_violations(console)
    return console


def test_a_researcher_offers_a_time_and_the_participant_books_it_in_the_web_app(
    browser: Browser, site: Site
) -> None:
    person, journey = consented(browser, site, "interviews")
    violations: dict[str, list[str]] = {}
    try:
        console = offer_and_invite(journey, person, "2031-03-04", "09:30", violations)
        expect(console.get_by_role("cell", name="Tue 4 Mar 2031 09:30")).to_be_visible()
        console.screenshot(path=str(_shot(journey, "console-schedule")), full_page=True)

        phone = journey.device()
        open_link(journey, phone, person.link)
        expect(heading(phone)).to_have_text("Your questionnaires")
        phone.get_by_role("link", name="See your interview invitation").click()
        expect(heading(phone)).to_have_text("Interviews")
        journey.look(phone, "invitation")
        phone.get_by_label(re.compile("Tuesday 4 March 2031 at 09:30")).check()
        main_button(phone).click()
        expect(heading(phone)).to_have_text("Check your answer")
        journey.look(phone, "check")
        phone.get_by_role("button", name="Confirm").click()
        expect(heading(phone)).to_have_text("Your interview is booked")
        journey.look(phone, "booked")

        console.reload()
        booked = console.get_by_role("link", name="Booked slot of 4 Mar 09:30")
        expect(booked).to_be_visible()
        booked.click()
        expect(heading(console)).to_have_text(f"Interview with {person.study_id}")
        expect(console.get_by_text("scheduled", exact=True)).to_be_visible()
        violations["interview"] = axe_violations(console)
    finally:
        journey.close()
    assert violations == {"schedule-empty": [], "schedule-with-slot": [], "interview": []}
    assert journey.violations == {}
    assert journey.pages == ["invitation", "check", "booked"]
    journey.assert_private(person.token)


def test_a_participant_who_chose_welsh_books_a_time_on_welsh_pages(
    browser: Browser, site: Site
) -> None:
    person, journey = consented(browser, site, "interviews-welsh")
    violations: dict[str, list[str]] = {}
    try:
        offer_and_invite(journey, person, "2031-03-05", "10:00", violations)
        phone = journey.device()
        sign_in_welsh(journey, phone, person.link)
        expect(heading(phone)).to_have_text(HOME)
        phone.get_by_role("link", name="Gweld eich gwahoddiad i gyfweliad").click()
        expect(heading(phone)).to_have_text("Cyfweliadau")
        look(journey, phone, "invitation")
        expect(phone.locator("legend")).to_have_text("Hoffech chi gymryd rhan?")
        phone.get_by_label(re.compile("Dydd Mercher 5 Mawrth 2031 am 10:00")).check()
        main_button(phone).click()
        expect(heading(phone)).to_have_text("Gwiriwch eich ateb")
        look(journey, phone, "check")
        phone.get_by_role("button", name="Cadarnhau").click()
        expect(heading(phone)).to_have_text("Mae eich cyfweliad wedi’i drefnu")  # noqa: RUF001
        look(journey, phone, "booked")
        expect(phone.get_by_text("45 munud, wyneb yn wyneb")).to_be_visible()
    finally:
        journey.close()
    assert violations == {"schedule-empty": [], "schedule-with-slot": []}
    assert journey.violations == {}
    assert journey.pages == ["welcome-in-english", "invitation", "check", "booked"]
    journey.assert_private(person.token)


def _shot(journey: Journey, label: str) -> Path:
    assert journey.folder is not None
    journey.folder.mkdir(parents=True, exist_ok=True)
    return journey.folder / f"{label}.png"

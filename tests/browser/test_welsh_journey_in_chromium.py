# ruff: noqa: RUF001 (the Welsh catalogue writes its apostrophes as U+2019)
"""A participant's whole journey in Welsh, in a real browser (Debian's chromium, a real
gunicorn): the link, "Cymraeg" pressed on the first page, the consent form in Welsh (refused
once, then signed), the receipt naming the language and the hash of the Welsh text, about-you
and peer-support in Welsh, the PHQ-9 in English (each of its texts marked ``lang="en"``, and
the sentence saying why), then signing out and back in on another device, still in Welsh.

On every page: ``<html lang="cy">``, axe-core finds nothing at any impact, the answer's
headers are safe, and no request goes to another origin. Screenshots of each page at a
phone's size: build/screenshots/welsh/ (not committed).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.journey import (
    ITEM_9,
    PAGE_OF,
    PHQ9,
    Journey,
    Site,
    heading,
    main_button,
    open_link,
)
from tests.system.harness import call

pytestmark = pytest.mark.system

HOME = "Eich holiaduron"
CONSENT_FORM = "Ffurflen gydsynio"
WELSH_PAGE_OF = re.compile(r"Tudalen (\d+) o (\d+)")
ABOUT_YOU = "Amdanoch chi"
PEER_SUPPORT = re.compile("cymorth gan gymheiriaid", re.IGNORECASE)


def look(journey: Journey, page: Page, label: str, *, english_inside: bool = False) -> None:
    """The journey's checks on a Welsh page, and its own: ``lang="cy"`` on the document and
    on no English text unless it is marked ``lang="en"``."""
    assert page.locator("html").get_attribute("lang") == "cy", page.url
    marked = page.locator("main [lang=en]")
    if english_inside:
        expect(marked.first).to_be_attached()
    else:
        expect(marked).to_have_count(0)
    # The switch back to English is on every page, named in English, marked as English.
    switch = page.get_by_role("link", name="English", exact=True)
    expect(switch.locator("span")).to_have_attribute("lang", "en")
    journey.look(page, label)


def first_choice(legend: str, group: Locator) -> None:
    """The first option of each question with options (numbers are typed by ``answer``)."""
    radios = group.get_by_role("radio")
    boxes = group.get_by_role("checkbox")
    if radios.count():
        radios.first.check()
    elif boxes.count():
        boxes.first.check()


def phq9_choice(legend: str, group: Locator) -> None:
    """ "Several days" on item 9 (an alert and its signposting), the first option elsewhere."""
    if legend.startswith(ITEM_9):
        group.get_by_label("Several days", exact=True).check()
    else:
        group.get_by_role("radio").first.check()


def answer(
    journey: Journey,
    page: Page,
    label: str,
    choose: Callable[[str, Locator], None],
    *,
    english: bool = False,
) -> list[str]:
    """Answer every page of a questionnaire; the headings seen."""
    seen: list[str] = []
    while WELSH_PAGE_OF.fullmatch(heading(page).inner_text()) and len(seen) < 12:
        seen.append(heading(page).inner_text())
        look(journey, page, f"{label}-page-{len(seen)}", english_inside=english)
        for group in page.locator("main").get_by_role("group").all():
            legend = group.locator("legend")
            if english:  # each question's text is the scale's own, marked as English
                expect(legend.locator("span[lang=en]")).to_have_count(1)
            choose(legend.inner_text(), group)
        for number in page.locator("main input[inputmode=numeric]:visible").all():
            number.fill("1")  # a count or a number of weeks: 1 suits them all
        with page.expect_navigation():
            main_button(page).click()
        expect(page.get_by_text("Mae problem")).to_have_count(0)
    assert not PAGE_OF.search(heading(page).inner_text())  # never an English heading
    return seen


def questionnaire(
    journey: Journey,
    page: Page,
    title: str | re.Pattern[str],
    label: str,
    choose: Callable[[str, Locator], None],
    *,
    english: bool = False,
) -> None:
    """From the task list: the questionnaire's page, its pages, check, send."""
    expect(heading(page)).to_have_text(HOME)
    page.locator("main").get_by_role("link", name=title).first.click()
    expect(heading(page)).to_have_text(title)
    look(journey, page, f"{label}-start", english_inside=english)
    main_button(page).click()
    expect(heading(page)).to_have_text(WELSH_PAGE_OF)
    assert answer(journey, page, label, choose, english=english)
    expect(heading(page)).to_have_text("Gwiriwch eich atebion")
    look(journey, page, f"{label}-check", english_inside=english)
    page.get_by_role("button", name="Anfon fy atebion").click()
    expect(page.get_by_text("Mae eich atebion wedi’u hanfon").first).to_be_visible()
    look(journey, page, f"{label}-sent", english_inside=english)
    page.get_by_role("link", name="Ewch i’ch holiaduron").click()


def sign_in_welsh(journey: Journey, page: Page, link: str) -> None:
    """The link signs in; the first page offers Cymraeg, which the person presses."""
    open_link(journey, page, link)
    journey.look(page, "welcome-in-english")
    assert page.locator("html").get_attribute("lang") == "en"
    cymraeg = page.get_by_role("link", name="Cymraeg", exact=True)
    expect(cymraeg.locator("span")).to_have_attribute("lang", "cy")
    cymraeg.focus()  # by keyboard, as anyone may
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    journey.help_link = "Cael help nawr"


def test_a_participant_takes_part_in_welsh_from_the_first_page(
    browser: Browser, site: Site
) -> None:
    journey = Journey(browser, site, "welsh")
    try:
        person = site.enrol()
        phone = journey.device()
        sign_in_welsh(journey, phone, person.link)

        # The welcome page: the web app's words and the information sheet, all in Welsh.
        look(journey, phone, "welcome")
        phone.locator("main").get_by_role("button", name="Ymlaen i’r ffurflen gydsynio").click()

        expect(heading(phone)).to_have_text(CONSENT_FORM)
        look(journey, phone, "consent")
        sign = phone.get_by_role("button", name="Llofnodi’r ffurflen gydsynio")
        sign.click()  # nothing ticked, no name: refused, in Welsh
        expect(phone.get_by_role("alert").filter(has_text="Mae problem")).to_be_visible()
        assert phone.title().startswith("Gwall: ")
        look(journey, phone, "consent-refused")
        for box in phone.get_by_role("checkbox").all():
            box.check()
        phone.get_by_label("Eich enw llawn").fill("Sam Participant")
        sign.click()
        expect(phone.get_by_text("Rydych wedi llofnodi’r ffurflen gydsynio").first).to_be_visible()
        look(journey, phone, "consent-receipt")
        _, welsh = call(site.url, "GET", "/api/v1/consent/form", headers={"Accept-Language": "cy"})
        assert welsh["language"] == "cy-GB"
        receipt = phone.locator("main").inner_text()
        assert re.search(r"Iaith y ffurflen\s+Cymraeg \(cy-GB\)", receipt), receipt
        assert re.search(rf"a ddarllenoch\s+{welsh['text_sha256']}", receipt), receipt
        phone.get_by_role("link", name="Ewch i’ch holiaduron").click()

        expect(heading(phone)).to_have_text(HOME)
        look(journey, phone, "questionnaires", english_inside=True)  # the scales' titles
        questionnaire(journey, phone, ABOUT_YOU, "about-you", first_choice)
        questionnaire(journey, phone, PEER_SUPPORT, "peer-support", first_choice)
        questionnaire(journey, phone, PHQ9, "phq9", phq9_choice, english=True)
    finally:
        journey.close()
    assert journey.violations == {}
    assert journey.headers_checked == len(journey.pages) >= 20
    journey.assert_private(person.token)


def test_the_choice_of_welsh_follows_the_participant_to_another_device(
    browser: Browser, site: Site
) -> None:
    journey = Journey(browser, site, "welsh-second-device", viewport={"width": 1280, "height": 800})
    try:
        person = site.enrol()
        phone = journey.device()
        sign_in_welsh(journey, phone, person.link)
        phone.get_by_role("button", name="Allgofnodi").click()
        expect(heading(phone)).to_have_text("Rydych wedi allgofnodi")
        look(journey, phone, "signed-out")
        laptop = journey.device()  # its browser asks for English (Chromium's en-US)
        open_link(journey, laptop, person.link)
        expect(laptop.locator("html")).to_have_attribute("lang", "cy")
        look(journey, laptop, "welcome-on-the-laptop")
    finally:
        journey.close()
    assert journey.violations == {}

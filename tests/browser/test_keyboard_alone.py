"""The journey with the keyboard alone: the link, the consent form, the GAD-7's pages (radios
moved with the arrow keys), the check page, sending. No mouse, no click: Tab, Shift+Tab,
Space, Enter and the arrows. On each page the focus can be seen wherever it lands, and the
first stops are the skip link and "Get help now".
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.journey import (
    CONSENT_FORM,
    GAD7,
    HOME,
    PAGE_OF,
    Journey,
    Site,
    heading,
    open_link,
    slug,
)
from tests.browser.keyboard import Focus, focused, note_looks, tab, tab_to

pytestmark = pytest.mark.system


def arrive(journey: Journey, page: Page, title: str | re.Pattern[str], label: str) -> list[Focus]:
    """A new page: check it, then Tab to "Get help now"; the stops on the way."""
    expect(heading(page)).to_have_text(title)
    journey.look(page, label)
    note_looks(page)
    way = tab_to(page, "Get help now")
    assert way[0].name == "Skip to main content", way
    assert not any(f.in_main for f in way), way  # help comes before the page's content
    assert len(way) <= 4, way
    return way


def press(page: Page, key: str) -> None:
    page.keyboard.press(key)


def follow(page: Page) -> None:
    """Enter on the focused link or button, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_participant_can_take_part_with_the_keyboard_alone(browser: Browser, site: Site) -> None:
    journey = Journey(browser, site, "keyboard")
    person = site.enrol()
    page = journey.device()
    try:
        open_link(journey, page, person.link)
        if heading(page).inner_text() not in (HOME, CONSENT_FORM):  # a page about the study
            arrive(journey, page, heading(page).inner_text(), "welcome")
            tab_to(page, re.compile("^Continue"))
            follow(page)
        if heading(page).inner_text() == HOME:
            arrive(journey, page, HOME, "questionnaires")
            tab_to(page, "Read and sign the consent form")
            follow(page)

        arrive(journey, page, CONSENT_FORM, "consent")
        boxes = page.get_by_role("checkbox").count()
        ticked = 0
        while ticked < boxes:
            box = tab(page)
            if box.role == "checkbox":
                press(page, "Space")
                ticked += 1
        expect(page.get_by_role("checkbox").and_(page.locator(":checked"))).to_have_count(boxes)
        tab_to(page, "Your full name")
        page.keyboard.type("Kim Keyboard")
        tab_to(page, "Sign the consent form", role="button")
        follow(page)

        arrive(journey, page, "You have signed the consent form", "consent-receipt")
        tab_to(page, "Go to your questionnaires")
        follow(page)
        arrive(journey, page, HOME, "questionnaires-after-consent")
        tab_to(page, GAD7)
        follow(page)
        arrive(journey, page, GAD7, "gad7-start")
        tab_to(page, "Start", role="button")
        follow(page)

        pages = 0
        while pages < 4 and PAGE_OF.fullmatch(heading(page).inner_text()):
            pages += 1
            arrive(journey, page, PAGE_OF, f"gad7-{slug(heading(page).inner_text())}")
            answer_with_arrows(page)
            tab_to(page, "Save and continue", role="button")
            follow(page)
        assert pages == 2

        arrive(journey, page, "Check your answers", "gad7-check")
        tab_to(page, "Send my answers", role="button")
        follow(page)
        expect(page.get_by_text("Your answers have been sent").first).to_be_visible()
        journey.look(page, "gad7-sent")
    finally:
        journey.close()
    assert journey.violations == {}
    journey.assert_private(person.token)


def answer_with_arrows(page: Page) -> None:
    """Each question of the page: Tab into its radios; on the first, down to the second
    option and back up; on the others, Space on the first option."""
    questions = page.locator("main").get_by_role("group").count()
    answered = 0
    while answered < questions:
        stop = tab(page)
        if stop.role != "radio":
            continue
        if answered == 0:
            press(page, "ArrowDown")
            moved = radio_in_focus(page)
            assert moved.checked and moved.name == "Several days", moved
            press(page, "ArrowUp")
        else:
            press(page, "Space")
        now = radio_in_focus(page)
        assert now.checked and now.name == "Not at all", now
        answered += 1


def radio_in_focus(page: Page) -> Focus:
    """The radio that has the focus now (the arrows move the focus and the choice together)."""
    now = focused(page)
    assert now is not None and now.shown, now
    return now

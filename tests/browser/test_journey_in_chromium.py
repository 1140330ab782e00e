"""A participant's whole journey in a real browser (Debian's chromium driven by Playwright, a
real gunicorn): enrolled through the API, the link, the consent form refused then signed, the
PHQ-9 with item 9 endorsed (signposting first, the alert seen by a researcher), the GAD-7 over
two sittings on two devices, then leaving the study. At a phone's size and a desktop's, and
again with JavaScript disabled.

On every page: axe-core finds nothing at any impact, the answer's headers keep scripts to
this service, out of frames and the Referer empty. After the journey: no request went to
another origin, and the participant's token is in no request's address and no log line.
Screenshots of each phone-sized page: build/screenshots/<journey>/ (not committed).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.journey import (
    DESKTOP,
    GAD7,
    HOME,
    PHONE,
    PHQ9,
    SIGN_IN,
    Enrolled,
    Journey,
    Site,
    answer_pages,
    check_and_send,
    consent,
    first_options,
    first_options_but_item_9,
    get_help,
    heading,
    leave,
    main_button,
    numbers_to_call,
    open_link,
    past_welcome,
    sign_in_with_code,
    start_questionnaire,
    to_questionnaires,
)

pytestmark = pytest.mark.system

SignIn = Callable[[Journey, Page, Enrolled], None]


def by_link(journey: Journey, page: Page, person: Enrolled) -> None:
    open_link(journey, page, person.link)


def by_typed_code(journey: Journey, page: Page, person: Enrolled) -> None:
    sign_in_with_code(journey, page, person.link, person.token)


def whole_journey(journey: Journey, sign_in: SignIn, leaving: str) -> tuple[Enrolled, str]:
    """Everything a participant does, from the link to leaving; what the last page said."""
    site = journey.site
    person = site.enrol()
    phone = journey.device()
    sign_in(journey, phone, person)
    consent(journey, phone, "Sam Participant")

    start_questionnaire(journey, phone, PHQ9, "phq9")
    assert len(answer_pages(journey, phone, "phq9", first_options_but_item_9)) >= 3
    check_and_send(journey, phone, "phq9")
    said = phone.locator("main").inner_text()
    assert said.index("Help is available now") < said.index("Your answers have been sent")
    numbers_to_call(phone)
    alerts = site.open_alerts(person.study_id)
    assert [(a["rule"], a["severity"]) for a in alerts] == [("phq9_item9", "urgent")]
    get_help(journey, phone)

    # The GAD-7's first page on this device; the rest another day, on another device.
    to_questionnaires(phone)
    start_questionnaire(journey, phone, GAD7, "gad7")
    assert answer_pages(journey, phone, "gad7", first_options, pages=1) == ["Page 1 of 2"]
    phone.context.close()
    other = journey.device()
    sign_in(journey, other, person)
    past_welcome(journey, other)
    expect(heading(other)).to_have_text(HOME)
    journey.look(other, "questionnaires-second-sitting")
    expect(other.get_by_role("link", name=f"Carry on with {GAD7}")).to_be_visible()
    start_questionnaire(journey, other, GAD7, "gad7-resumed")
    expect(heading(other)).to_have_text("Page 2 of 2")  # the first page with no answer
    answer_pages(journey, other, "gad7-resumed", first_options)
    check_and_send(journey, other, "gad7")
    expect(other.get_by_text("Help is available now")).to_have_count(0)

    to_questionnaires(other)
    last = leave(journey, other, leaving)
    if leaving.endswith("delete my answers"):
        assert "Your link no longer works" in last
        sign_in_refused(journey, other, person)
    return person, last


def sign_in_refused(journey: Journey, page: Page, person: Enrolled) -> None:
    """After erasure the link opens the sign-in page again, which says why it cannot."""
    page.goto(person.link)
    expect(heading(page)).to_have_text(SIGN_IN)
    if not journey.javascript:
        page.get_by_label("Access code").fill(person.token)
        main_button(page).click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_contain_text("leave the study")
    journey.look(page, "link-after-erasure")


@pytest.mark.parametrize(
    ("viewport", "name", "leaving"),
    [
        (PHONE, "phone", "Stop taking part and delete my answers"),
        (DESKTOP, "desktop", "Stop taking part"),
    ],
    ids=["phone-360x640", "desktop-1280x800"],
)
def test_a_participant_takes_part_from_the_link_to_leaving(
    browser: Browser, site: Site, viewport: dict[str, int], name: str, leaving: str
) -> None:
    journey = Journey(browser, site, name, viewport=viewport)
    try:
        person, last = whole_journey(journey, by_link, leaving)
    finally:
        journey.close()
    assert journey.violations == {}
    assert journey.headers_checked == len(journey.pages) >= 18
    journey.assert_private(person.token)
    if leaving == "Stop taking part":
        assert "The answers you gave stay in the study" in last


def test_the_same_journey_works_without_javascript(browser: Browser, site: Site) -> None:
    journey = Journey(browser, site, "no-javascript", javascript=False)
    try:
        person, last = whole_journey(
            journey, by_typed_code, "Stop taking part and delete my answers"
        )
    finally:
        journey.close()
    assert "Your answers have been deleted" in last
    assert journey.violations == {}
    assert journey.headers_checked == len(journey.pages) >= 18
    journey.assert_private(person.token)
    assert journey.folder is not None
    assert sorted(p.name for p in journey.folder.glob("*.png"))[0] == "01-sign-in.png"

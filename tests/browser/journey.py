"""The participant's journey in a browser, one helper per step, and what every page must be.

The steps find their way as a person does: by the page's heading, its main button and the
names of its links and fields, never by markup. They are kept here, in one place, so that a
change to the pages (a welcome page before the consent form, say) is met in one place too.

A ``Journey`` opens browser contexts (one per "device"), records every request and every
page's answer, runs axe-core on each page it is shown and keeps a full-page screenshot of it
under ``build/screenshots/<journey>/`` when it runs at the phone's size.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Response, Route, expect

from service.config import PROJECT_ROOT
from tests.system.harness import Gunicorn, bearer, call

SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots"
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}
SIGN_IN = "Sign in with your access code"
HOME = "Your questionnaires"
CONSENT_FORM = "Consent form"
PAGE_OF = re.compile(r"Page (\d+) of (\d+)")
PHQ9 = "Patient Health Questionnaire (PHQ-9)"
GAD7 = "Generalised Anxiety Disorder Assessment (GAD-7)"
ITEM_9 = "Thoughts that you"  # the PHQ-9's item 9: any answer but "Not at all" raises an alert
MOST_PAGES = 12  # a questionnaire longer than this means the pages go round in a circle

Choose = Callable[[str, Locator], None]


@dataclass(frozen=True)
class Enrolled:
    study_id: str
    token: str
    link: str


@dataclass(frozen=True)
class Site:
    """The service under test: a real gunicorn, its researcher's token and its log file."""

    gunicorn: Gunicorn
    researcher: str
    log: Path

    @property
    def url(self) -> str:
        return self.gunicorn.url

    def enrol(self) -> Enrolled:
        """Enrol a participant through the API, as a researcher does."""
        status, made = call(self.url, "POST", "/api/v1/participants", {}, bearer(self.researcher))
        assert status == 201, made
        return Enrolled(made["study_id"], made["token"], made["link"])

    def open_alerts(self, study_id: str) -> list[dict[str, Any]]:
        """The open safety alerts a researcher sees for this participant."""
        status, body = call(self.url, "GET", "/api/v1/alerts", headers=bearer(self.researcher))
        assert status == 200, body
        return [a for a in body["alerts"] if a["study_id"] == study_id]

    def log_bytes(self) -> bytes:
        return self.log.read_bytes()


@dataclass
class Journey:
    """One participant's way through the pages, on one or more devices."""

    browser: Browser
    site: Site
    name: str
    viewport: dict[str, int] = field(default_factory=lambda: dict(PHONE))
    javascript: bool = True
    # The name of the header's help link, which every page has: "Cael help nawr" in Welsh.
    help_link: str = "Get help now"
    requests: list[str] = field(default_factory=list)
    violations: dict[str, list[str]] = field(default_factory=dict)
    pages: list[str] = field(default_factory=list)
    headers_checked: int = 0
    _answers: dict[int, Response] = field(default_factory=dict)  # each page's last document
    contexts: list[BrowserContext] = field(default_factory=list)
    _inspector: Page | None = None

    def __post_init__(self) -> None:
        if self.folder is not None:  # this run's pages only
            shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def folder(self) -> Path | None:
        """Where the screenshots go: only the phone-sized journeys keep them."""
        return SCREENSHOTS / self.name if self.viewport == PHONE else None

    def device(self) -> Page:
        """A new browser context (another phone, or the same phone another day)."""
        context = self.browser.new_context(
            viewport=self.viewport, java_script_enabled=self.javascript
        )
        context.set_default_timeout(15_000)
        context.on("request", lambda request: self.requests.append(request.url))
        self.contexts.append(context)
        page = context.new_page()

        def keep(response: Response) -> None:
            if response.frame == page.main_frame and response.request.resource_type == "document":
                self._answers[id(page)] = response

        page.on("response", keep)
        return page

    def look(self, page: Page, label: str) -> None:
        """Check the page as a whole (axe-core, "Get help now") and keep a screenshot."""
        self.pages.append(label)
        assert "<" not in page.title(), page.title()  # the title is text, never markup
        answer = self._answers[id(page)]
        assert answer.url.split("#")[0] == page.url.split("#")[0], (answer.url, page.url)
        headers_are_safe(page.url, answer.all_headers())
        self.headers_checked += 1
        expect(page.get_by_role("link", name=self.help_link).first).to_be_visible()
        results = Axe().run(page if self.javascript else self._inspect(page))
        found = [v["id"] for v in results.response["violations"]]
        if found:
            self.violations[f"{len(self.pages):02d}-{label}: {page.url}"] = found
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{len(self.pages):02d}-{label}.png"
            page.screenshot(path=str(path), full_page=True)

    def _inspect(self, page: Page) -> Page:
        """The page as the server sent it, loaded where axe-core can run.

        axe-core waits on timers, and a page with JavaScript disabled runs no timer, so
        ``axe.run`` on it never settles (Playwright's evaluate has no timeout: the test
        hangs). Here the same HTML is served, at the same address, to a page that runs
        scripts, with the pages' own scripts answered empty so the document stays as it
        was without them.
        """
        if self._inspector is None:
            context = self.browser.new_context(viewport=self.viewport)
            context.set_default_timeout(15_000)
            self._inspector = context.new_page()
            self.contexts.append(context)
        html = page.content()

        def serve(route: Route) -> None:
            if route.request.resource_type == "document":
                route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
            elif route.request.url.endswith((".mjs", ".js")):
                route.fulfill(status=200, content_type="text/javascript", body="")
            else:
                route.continue_()

        self._inspector.unroute("**/*")
        self._inspector.route("**/*", serve)
        self._inspector.goto(page.url)
        return self._inspector

    def close(self) -> None:
        for context in self.contexts:
            context.close()

    def assert_private(self, *tokens: str) -> None:
        """Nothing went elsewhere; no token in any request's address nor in the server log."""
        assert self.requests, "the journey made no request"
        elsewhere = [url for url in self.requests if not url.startswith(self.site.url + "/")]
        assert elsewhere == []
        log = self.site.log_bytes()
        assert b'"path":"/p/' in log, "the server logged none of the journey's requests"
        for token in tokens:
            assert [url for url in self.requests if token in url.split("#")[0]] == []
            assert token.encode() not in log


def headers_are_safe(url: str, headers: dict[str, str]) -> None:
    """A page's answer: scripts only from this service, in no frame, no Referer sent on."""
    policy = {
        part.split()[0]: part.split()[1:]
        for part in headers.get("content-security-policy", "").split(";")
        if part.strip()
    }
    assert policy.get("script-src"), url
    assert "'unsafe-inline'" not in policy["script-src"], url
    assert policy.get("frame-ancestors") == ["'none'"], url
    assert headers.get("referrer-policy") == "no-referrer", url


def slug(text: str) -> str:
    """A heading as part of a file name: "Page 1 of 3" -> "page-1-of-3"."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def main_button(page: Page) -> Locator:
    """The page's one main action (the first button in the main part of the page)."""
    return page.locator("main").get_by_role("button").first


def open_link(journey: Journey, page: Page, link: str) -> None:
    """Open the link from the letter: its script signs in (the token is in the fragment)."""
    page.goto(link)
    expect(heading(page)).not_to_have_text(SIGN_IN)
    assert "token" not in page.url  # taken out of the address bar and the history


def sign_in_with_code(journey: Journey, page: Page, link: str, code: str) -> None:
    """Open the link where no script runs: the page asks for the access code."""
    page.goto(link)
    expect(heading(page)).to_have_text(SIGN_IN)
    journey.look(page, "sign-in")
    page.get_by_label("Access code").fill(code)
    main_button(page).click()
    expect(heading(page)).not_to_have_text(SIGN_IN)


def past_welcome(journey: Journey, page: Page) -> None:
    """A page about the study before the consent form, when there is one: read it, go on.

    It is any page after signing in that is neither the task list nor the consent form;
    its main action starts with "Continue".
    """
    if heading(page).inner_text() in (HOME, CONSENT_FORM):
        return
    journey.look(page, "welcome")
    page.locator("main").get_by_role("button", name=re.compile("^Continue")).first.click()
    expect(heading(page)).to_have_text(re.compile(f"^({HOME}|{CONSENT_FORM})$"))


def consent(journey: Journey, page: Page, name: str) -> None:
    """From just after signing in: the consent form, refused once, then signed."""
    past_welcome(journey, page)
    if heading(page).inner_text() == HOME:
        journey.look(page, "questionnaires-before-consent")
        page.get_by_role("link", name="Read and sign the consent form").click()
    expect(heading(page)).to_have_text(CONSENT_FORM)
    journey.look(page, "consent")
    sign = page.get_by_role("button", name="Sign the consent form")
    sign.click()  # nothing ticked, no name: refused
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_visible()
    assert page.title().startswith("Error: ")
    journey.look(page, "consent-refused")
    links = summary.get_by_role("link").all()
    assert links, "the error summary links to nothing"
    for link in links:  # each fault links to a field on the page
        target = str(link.get_attribute("href"))
        assert target.startswith("#"), target
        expect(page.locator(target)).to_have_count(1)
    links[-1].click()
    if journey.javascript:  # the NHS.UK error summary's script moves focus to the field
        expect(page.locator(str(links[-1].get_attribute("href")))).to_be_focused()
    for box in page.get_by_role("checkbox").all():
        box.check()
    page.get_by_label("Your full name").fill(name)
    sign.click()
    expect(page.get_by_text("You have signed the consent form").first).to_be_visible()
    journey.look(page, "consent-receipt")
    page.get_by_role("link", name="Go to your questionnaires").click()
    expect(heading(page)).to_have_text(HOME)


def first_options_but_item_9(legend: str, group: Locator) -> None:
    """The first option everywhere ("Not at all"), except "Several days" on item 9."""
    if legend.startswith(ITEM_9):
        group.get_by_label("Several days", exact=True).check()
    else:
        group.get_by_role("radio").first.check()


def first_options(legend: str, group: Locator) -> None:
    group.get_by_role("radio").first.check()


def start_questionnaire(journey: Journey, page: Page, title: str, label: str) -> None:
    """From the task list: the questionnaire's own page, then Start (or Continue)."""
    expect(heading(page)).to_have_text(HOME)
    page.get_by_role("link", name=title, exact=True).click()
    expect(heading(page)).to_have_text(title)
    journey.look(page, f"{label}-start")
    main_button(page).click()
    expect(heading(page)).to_have_text(PAGE_OF)


def answer_pages(
    journey: Journey, page: Page, label: str, choose: Choose, pages: int = MOST_PAGES
) -> list[str]:
    """Answer the questionnaire's pages (at most ``pages`` of them); the headings seen."""
    seen: list[str] = []
    while len(seen) < pages and PAGE_OF.fullmatch(heading(page).inner_text()):
        seen.append(heading(page).inner_text())
        journey.look(page, f"{label}-{slug(seen[-1])}")
        for group in page.locator("main").get_by_role("group").all():
            choose(group.locator("legend").inner_text(), group)
        with page.expect_navigation():
            main_button(page).click()
        # The same page may come again (an answer brought in a question), never refused.
        expect(page.get_by_text("There is a problem")).to_have_count(0)
    assert len(seen) < MOST_PAGES, f"the pages go round in a circle: {seen}"
    return seen


def check_and_send(journey: Journey, page: Page, label: str) -> None:
    """Check your answers, then send them: the result page."""
    expect(heading(page)).to_have_text("Check your answers")
    journey.look(page, f"{label}-check")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("Your answers have been sent").first).to_be_visible()
    journey.look(page, f"{label}-sent")


def numbers_to_call(page: Page) -> None:
    """999, NHS 111 and Samaritans on the page, each a link that dials."""
    main = page.locator("main")
    for number, dial in (("999", "tel:999"), ("111", "tel:111"), ("116 123", "tel:116123")):
        link = main.get_by_role("link", name=number, exact=True).first
        expect(link).to_have_attribute("href", dial)


def get_help(journey: Journey, page: Page) -> None:
    """ "Get help now" from the header: the numbers to call, each a tap away; then back."""
    page.get_by_role("link", name="Get help now").first.click()
    expect(heading(page)).to_have_text("Get help now")
    numbers_to_call(page)
    journey.look(page, "help")
    page.go_back()
    expect(heading(page)).not_to_have_text("Get help now")


def to_questionnaires(page: Page) -> None:
    page.get_by_role("link", name="Go to your questionnaires").click()
    expect(heading(page)).to_have_text(HOME)


def leave(journey: Journey, page: Page, choice: str) -> str:
    """Leave the study: every way explained, one chosen and confirmed; the last heading."""
    expect(heading(page)).to_have_text(HOME)
    page.get_by_role("link", name="Leave the study").click()
    expect(heading(page)).to_have_text("Leave the study")
    journey.look(page, "leave")
    ways = page.get_by_role("radio")
    expect(ways).to_have_count(3)
    for way in ways.all():  # each way says what it keeps and what it removes
        described = str(way.get_attribute("aria-describedby"))
        assert page.locator(f"#{described}").inner_text().strip(), described
    page.get_by_label(choice, exact=True).check()
    main_button(page).click()
    expect(heading(page)).to_have_text("Are you sure?")
    journey.look(page, "leave-confirm")
    main_button(page).click()
    expect(heading(page)).not_to_have_text("Are you sure?")
    journey.look(page, "left")
    return page.locator("main").inner_text()

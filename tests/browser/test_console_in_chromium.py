"""The staff console in a real browser (Debian's chromium driven by Playwright, a real
gunicorn) at 1280x800: what a newcomer does on the first day, by keyboard where it matters.

An admin signs in with the token the command line printed, creates a researcher token and
signs out; the researcher signs in, enrols a participant and sees the link once; the
participant answers the PHQ-9 with item 9 endorsed (over the API); the researcher sees the
alert on the dashboard and acknowledges it with a note, and the API agrees; the analyst
downloads the export and reads its manifest; the auditor sees both logs intact, reads the
participant's consent entries and downloads the file for psam-verify. axe-core runs on every page,
every role meets a 403 on another role's page, no request leaves the service's origin.
Screenshots: build/screenshots/console/ (not committed).
"""

from __future__ import annotations

import http.client
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from service.config import PROJECT_ROOT
from tests.conftest import shipped_version
from tests.system.conftest import free_port, run_cli
from tests.system.harness import Gunicorn, deploy

pytestmark = pytest.mark.system

SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots" / "console"
PHQ9_ALERTING = {**{f"phq9_{i}": 0 for i in range(1, 9)}, "phq9_9": 1, "phq9_10": 0}
ROLE_PAGES = {
    "researcher": "/staff/alerts",
    "admin": "/staff/tokens",
    "analyst": "/staff/exports",
    "auditor": "/staff/audit",
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Gunicorn, str, str, str]]:
    port = free_port()
    folder = tmp_path_factory.mktemp("console")
    deployment = deploy("psam_console_test", folder, PSAM_PUBLIC_URL=f"http://127.0.0.1:{port}")
    made = run_cli(deployment.env, "tokens", "create", "--role", "admin", "--label", "first admin")
    assert made.returncode == 0, made.stderr
    admin = made.stdout.strip().splitlines()[-1]
    made = run_cli(deployment.env, "tokens", "create", "--role", "analyst", "--label", "analyst")
    assert made.returncode == 0, made.stderr
    analyst = made.stdout.strip().splitlines()[-1]
    running = Gunicorn(deployment, port=port, workers=2).start()
    try:
        yield running, admin, deployment.auditor, analyst
    finally:
        running.stop()


def call(server: Gunicorn, method: str, path: str, token: str, body: Any = None) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        found = json.loads(answer.read() or b"null")
    finally:
        connection.close()  # a server that keeps connections alive leaves this one open
    assert answer.status < 300, found
    return found


class Console:
    """One browser tab through the console: axe and a screenshot of each page it meets."""

    def __init__(self, page: Page):
        self.page = page
        self.axe = Axe()
        self.violations: dict[str, list[str]] = {}
        self.pages = 0

    def look(self, label: str) -> None:
        self.pages += 1
        found = [v["id"] for v in self.axe.run(self.page).response["violations"]]
        if found:
            self.violations[f"{label}: {self.page.url}"] = found
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.pages:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)

    def tab_to(self, selector: str) -> None:
        """Press Tab until the element is focused: the keyboard alone reaches it."""
        for _ in range(40):
            if self.page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {selector}")

    def sign_in_by_keyboard(self, base: str, token: str) -> None:
        self.page.goto(f"{base}/staff/")
        expect(self.page.get_by_role("heading", level=1)).to_have_text(
            "Sign in to the staff console"
        )
        self.look("sign-in")
        self.tab_to("#token")
        self.page.keyboard.type(token)
        self.page.keyboard.press("Enter")
        expect(self.page.get_by_role("heading", level=1)).to_have_text("Your pages")
        self.look("home")

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        expect(self.page.get_by_role("heading", level=1)).to_have_text("You have signed out")
        self.look("signed-out")


def test_a_newcomer_runs_the_first_day_in_the_console(
    browser: Browser, server: tuple[Gunicorn, str, str, str]
) -> None:
    gunicorn, admin, auditor, analyst = server
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # this run's pages only
    base = gunicorn.url
    requests: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        console = Console(page)

        # The admin: a researcher token, shown once.
        console.sign_in_by_keyboard(base, admin)
        page.get_by_role("link", name="Staff tokens").first.click()
        console.look("tokens")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_text("There is a problem")).to_be_visible()
        console.look("tokens-errors")
        page.get_by_label("Label").fill("Study coordinator")
        page.get_by_label("Researcher").check()
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Token created")
        console.look("token-created")
        researcher = page.locator(".psam-token").inner_text()
        assert researcher.startswith("psam_s_")
        page.get_by_role("link", name="Keys").first.click()
        console.look("keys")
        page.get_by_role("link", name="Messages").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Messages")
        console.look("messages")
        page.goto(f"{base}{ROLE_PAGES['researcher']}")
        expect(page.get_by_role("heading", level=1)).to_have_text("You do not have access")
        console.look("forbidden")
        console.sign_out()

        # The researcher: enrol, and the link shown once.
        console.sign_in_by_keyboard(base, researcher)
        page.goto(f"{base}{ROLE_PAGES['admin']}")
        expect(page.get_by_role("heading", level=1)).to_have_text("You do not have access")
        page.get_by_role("link", name="Enrol a participant").first.click()
        console.look("enrol")
        page.get_by_label("Site (optional)").fill("Leeds")
        page.get_by_role("button", name="Enrol").click()
        expect(page.get_by_text("Participant enrolled")).to_be_visible()
        console.look("enrolled")
        link = page.locator("code.psam-link").inner_text()
        study_id = page.locator(".nhsuk-panel__body").inner_text().split("Study ID: ")[1].strip()
        token = link.split("#token=")[1]

        # The participant answers (over the API): item 9 endorsed raises an urgent alert.
        own = token
        form = call(gunicorn, "GET", "/api/v1/consent/form", own)
        signed = {
            "form_version": form["version"],
            "form_hash": form["sha256"],
            "clauses": {c["id"]: True for c in form["clauses"]},
            "typed_name": "Sam Participant",
        }
        call(gunicorn, "POST", "/api/v1/me/consent", own, signed)
        body = {
            "instrument": "phq-9",
            "version": shipped_version("phq-9"),
            "timepoint": "baseline",
            "answers": PHQ9_ALERTING,
            "submit": True,
        }
        call(gunicorn, "POST", "/api/v1/me/responses", own, body)

        # The researcher sees it, and acknowledges it by keyboard.
        page.get_by_role("link", name="Dashboard").first.click()
        expect(page.get_by_text("1 alert waiting for review (1 urgent)")).to_be_visible()
        console.look("dashboard")
        page.get_by_role("link", name="Participants").first.click()
        expect(page.get_by_role("link", name=study_id)).to_be_visible()
        console.look("participants")
        page.get_by_role("link", name=study_id).click()
        expect(page.get_by_role("heading", name="Consent history")).to_be_visible()
        console.look("participant")
        page.get_by_role("link", name="Messages sent").click()
        expect(page.get_by_text("safety-alert")).to_be_visible()
        console.look("participant-messages")
        page.get_by_role("link", name="Alerts").first.click()
        expect(page.get_by_role("heading", name="Waiting for review (1)")).to_be_visible()
        console.look("alerts")
        console.tab_to("textarea")
        page.keyboard.type("Called the participant; they are safe and have support.")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Waiting for review (0)")).to_be_visible()
        expect(page.get_by_text("they are safe and have support")).to_be_visible()
        console.look("alerts-acknowledged")
        console.sign_out()

        # The analyst: the export downloads, and its manifest is there.
        console.sign_in_by_keyboard(base, analyst)
        page.get_by_role("link", name="Exports").first.click()
        console.look("exports")
        page.get_by_role("button", name="Download the export").click()
        expect(page.get_by_text("There is a problem")).to_be_visible()
        console.look("exports-errors")
        page.get_by_label("Instrument").first.select_option("phq-9")
        with page.expect_download() as downloading:
            page.get_by_role("button", name="Download the export").click()
        rows = downloading.value.path().read_text(encoding="utf-8").strip().splitlines()
        assert len(rows) == 2 and study_id in rows[1]
        page.goto(f"{base}/staff/exports")
        page.get_by_role("link", name="Manifest").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Export manifest")
        console.look("manifest")
        console.sign_out()

        # The auditor: both logs intact, and the file for psam-verify.
        console.sign_in_by_keyboard(base, auditor)
        page.get_by_role("link", name="Logs and verification").first.click()
        expect(page.get_by_text("Intact", exact=True)).to_have_count(2)
        console.look("audit")
        page.get_by_role("link", name="Read the consent log").click()
        page.get_by_label("Study ID").fill(study_id)
        page.get_by_role("button", name="Show entries").click()
        expect(page.get_by_role("cell", name=study_id).first).to_be_visible()
        console.look("consent-log")
        page.goto(f"{base}/staff/audit")
        with page.expect_download() as downloading:
            page.get_by_role("link", name="Download the consent log for psam-verify").click()
        assert '"kind":"header"' in downloading.value.path().read_text(encoding="utf-8")

        # Every role meets a 403 on the others' pages.
        for role, path in ROLE_PAGES.items():
            if role != "auditor":
                page.goto(f"{base}{path}")
                expect(page.get_by_role("heading", level=1)).to_have_text("You do not have access")
    finally:
        context.close()

    assert console.violations == {}
    acknowledged = call(gunicorn, "GET", "/api/v1/alerts?status=acknowledged", researcher)
    assert [a["study_id"] for a in acknowledged["alerts"]] == [study_id]
    elsewhere = [url for url in requests if not url.startswith(base)]
    assert elsewhere == []
    assert not any(secret in url for url in requests for secret in (admin, researcher, token))

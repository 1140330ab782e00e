"""One participant's journey in a real browser: Debian's chromium driven by Playwright, on a
real gunicorn, at a phone's size. The link signs them in, they consent and answer the PHQ-9
with item 9 endorsed; axe-core runs on every page; no request goes to another origin; the
token is in no URL the server saw. Screenshots go to build/screenshots/ (not committed).

Debian's chromium is required (``.ci/run`` installs it when it is missing): a machine without
it fails here rather than skipping.
"""

from __future__ import annotations

import http.client
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

from service.config import PROJECT_ROOT
from tests.system.conftest import free_port
from tests.system.harness import Gunicorn, deploy

pytestmark = pytest.mark.system

SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gunicorn, str]]:
    port = free_port()
    folder = tmp_path_factory.mktemp("browser")
    deployment = deploy("psam_browser_test", folder, PSAM_PUBLIC_URL=f"http://127.0.0.1:{port}")
    running = Gunicorn(deployment, port=port, workers=2).start()
    try:
        yield running, deployment.researcher
    finally:
        running.stop()


def enrol(server: Gunicorn, researcher: str) -> dict[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(
        "POST",
        "/api/v1/participants",
        body="{}",
        headers={"Authorization": f"Bearer {researcher}", "Content-Type": "application/json"},
    )
    answer = connection.getresponse()
    assert answer.status == 201
    made: dict[str, str] = json.loads(answer.read())
    return made


class Journey:
    def __init__(self, page: Page, name: str):
        self.page, self.name = page, name
        self.axe = Axe()
        self.violations: dict[str, list[str]] = {}
        self.step = 0

    def look(self, label: str) -> None:
        """Run axe on the page and keep a screenshot of it."""
        self.step += 1
        results = self.axe.run(self.page)
        found = [v["id"] for v in results.response["violations"]]
        if found:
            self.violations[f"{label}: {self.page.url}"] = found
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{self.step:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)


def test_a_participant_consents_and_answers_the_phq9_on_a_phone(
    server: tuple[Gunicorn, str],
) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed: apt-get install -y chromium"
    gunicorn, researcher = server
    made = enrol(gunicorn, researcher)
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        context = browser.new_context(viewport={"width": 360, "height": 640})
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        journey = Journey(page, "phone")

        page.goto(made["link"])
        expect(page.get_by_role("heading", level=1)).to_have_text("Your questionnaires")
        assert "token" not in page.url
        journey.look("questionnaires")

        page.get_by_role("link", name="Read and sign the consent form").click()
        journey.look("consent")
        page.get_by_role("button", name="Sign the consent form").click()
        expect(page.get_by_text("There is a problem")).to_be_visible()
        journey.look("consent-errors")
        for box in page.get_by_role("checkbox").all():
            box.check()
        page.get_by_label("Your full name").fill("Sam Participant")
        page.get_by_role("button", name="Sign the consent form").click()
        expect(page.get_by_text("You have signed the consent form")).to_be_visible()
        journey.look("receipt")

        page.goto(f"{gunicorn.url}/p/questionnaires/baseline/phq-9")
        journey.look("preamble")
        page.get_by_role("button", name="Start").click()
        while page.get_by_role("button", name="Save and continue").count():
            journey.look("questions")
            for group in page.get_by_role("group").all():
                legend = group.locator("legend").inner_text()
                if legend.startswith("Thoughts that you"):  # item 9: raises the alert
                    group.get_by_label("Several days", exact=True).check()
                else:  # the first option ("Not at all" for the nine items)
                    group.get_by_role("radio").first.check()
            page.get_by_role("button", name="Save and continue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers")
        journey.look("check")
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_text("Help is available now")).to_be_visible()
        journey.look("result")

        page.get_by_role("link", name="Get help now").first.click()
        expect(page.get_by_role("link", name="116 123")).to_have_attribute("href", "tel:116123")
        journey.look("help")
        browser.close()

    assert journey.violations == {}
    elsewhere = [url for url in requests if not url.startswith(gunicorn.url)]
    assert elsewhere == []
    assert not any(made["token"] in url.split("#")[0] for url in requests)
    assert Path(SCREENSHOTS).is_dir()

"""An interview's files in the staff console, in Chromium at 1280x800, by keyboard where it
matters: a researcher opens the page of an interview whose recording was uploaded over the
API, meets the error summary for an empty transcript, pastes one, marks it verified and
downloads it. axe-core runs on every page; no request leaves the service's origin.
Screenshots: build/screenshots/recordings/ (not committed).
"""

from __future__ import annotations

import http.client
import shutil
import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine

from service.config import PROJECT_ROOT
from service.db import utcnow
from service.models import Interview
from tests.browser.journey import Site
from tests.system.harness import consented_participant

pytestmark = pytest.mark.system

SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots" / "recordings"
TRANSCRIPT = "Interviewer: How were the first weeks?\nP: Hard. The group helped."


def scheduled_interview(site: Site, study_id: str) -> str:
    """An interview row as the invitation flow leaves it (written to the database directly)."""
    engine = create_engine(site.gunicorn.deployment.env["DATABASE_URL"])
    try:
        with engine.begin() as conn:
            interview = uuid.uuid4()
            now = utcnow()
            conn.execute(
                Interview.__table__.insert().values(
                    id=interview,
                    study_id=study_id,
                    status="scheduled",
                    channel="phone",
                    invited_at=now,
                    updated_at=now,
                )
            )
    finally:
        engine.dispose()
    return str(interview)


def upload_recording(site: Site, interview: str, data: bytes) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", site.gunicorn.port, timeout=30)
    try:
        conn.request(
            "PUT",
            f"/api/v1/interviews/{interview}/audio",
            body=data,
            headers={"Authorization": f"Bearer {site.researcher}", "Content-Type": "audio/ogg"},
        )
        answer = conn.getresponse()
        assert answer.status == 201, answer.read()
    finally:
        conn.close()


class Pages:
    def __init__(self, page: Page):
        self.page, self.axe, self.count = page, Axe(), 0
        self.violations: dict[str, list[str]] = {}

    def look(self, label: str) -> None:
        self.count += 1
        found = [v["id"] for v in self.axe.run(self.page).response["violations"]]
        if found:
            self.violations[label] = found
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(
            path=str(SCREENSHOTS / f"{self.count:02d}-{label}.png"), full_page=True
        )

    def tab_to(self, selector: str) -> None:
        for _ in range(60):
            if self.page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {selector}")


def test_a_researcher_uploads_verifies_and_downloads_a_transcript_in_the_console(
    browser: Browser, site: Site
) -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    study_id, _token = consented_participant(site.url, site.gunicorn.deployment)
    interview = scheduled_interview(site, study_id)
    upload_recording(site, interview, b"OggS" + bytes(70_000))
    requests: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    try:
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        pages = Pages(page)
        page.goto(f"{site.url}/staff/")
        pages.tab_to("#token")
        page.keyboard.type(site.researcher)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your pages")

        page.goto(f"{site.url}/staff/interviews/{interview}/files")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Interview recording and transcript"
        )
        expect(page.get_by_text("70,004 bytes")).to_be_visible()
        expect(page.get_by_text("No transcript has been uploaded.")).to_be_visible()
        pages.look("files")

        page.get_by_role("button", name="Upload the transcript").click()
        expect(page.get_by_text("There is a problem")).to_be_visible()
        pages.look("files-error")

        page.get_by_label("De-identified transcript").fill(TRANSCRIPT)
        pages.tab_to("button.nhsuk-button--secondary")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Not verified")).to_be_visible()
        pages.look("transcript-uploaded")

        page.get_by_role("button", name="Mark the transcript verified").click()
        expect(page.get_by_role("button", name="Mark the transcript verified")).to_have_count(0)
        pages.look("transcript-verified")

        with page.expect_download() as downloading:
            page.get_by_role("link", name="Download the transcript").click()
        path = downloading.value.path()
        assert path is not None
        assert path.read_text(encoding="utf-8") == TRANSCRIPT
    finally:
        context.close()
    assert pages.violations == {}
    assert requests and all(url.startswith(site.url) for url in requests)

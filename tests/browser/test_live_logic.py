"""Skip logic acting live in a real browser (Debian's chromium, a real gunicorn): on the
about-you questionnaire, choosing "Other" shows the question that asks for a description
at once, choosing another answer hides it again (and nothing of it is sent), all under the
service's Content-Security-Policy, with no console error and no request to another origin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, expect

from tests.system.conftest import free_port
from tests.system.harness import Gunicorn, bearer, call, consented_participant, deploy

pytestmark = pytest.mark.system

OTHER_ROLE = "Please tell us how you would describe yourself."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gunicorn, str]]:
    port = free_port()
    folder = tmp_path_factory.mktemp("live")
    deployment = deploy("psam_live_logic", folder, PSAM_PUBLIC_URL=f"http://127.0.0.1:{port}")
    running = Gunicorn(deployment, port=port, workers=1).start()
    try:
        _, token = consented_participant(running.url, deployment)
        yield running, token
    finally:
        running.stop()


def test_an_answer_shows_and_hides_the_question_it_brings_in_without_a_round_trip(
    browser: Browser, server: tuple[Gunicorn, str]
) -> None:
    gunicorn, token = server
    requests: list[str] = []
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 360, "height": 640})
    try:
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        page.goto(f"{gunicorn.url}/p/start#token={token}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your questionnaires")
        page.goto(f"{gunicorn.url}/p/questionnaires/baseline/about-you")
        page.get_by_role("button", name="Start").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Page 1 of \d+$"))
        described = page.get_by_label(OTHER_ROLE)
        # Code 3 of "Which of these best describes you?": "Other" in about-you 1.0.x, "Other
        # (please say)" in 1.1.x (from amendment 1.1's day).
        other = page.locator('input[name="item-ay_role"][value="3"]')
        expect(described).to_be_hidden()

        posts_before = sum(1 for url in requests if "/page/" in url)
        other.check()
        expect(described).to_be_visible()
        described.fill("A friend who supports")
        assert Axe().run(page).response["violations"] == []
        page.get_by_label("I had the miscarriage").check()
        expect(described).to_be_hidden()
        expect(described).to_be_disabled()
        other.check()
        expect(described).to_be_visible()
        expect(described).to_have_value("A friend who supports")
        assert sum(1 for url in requests if "/page/" in url) == posts_before  # no round trip

        # Required in about-you 1.0.x, optional in 1.1.x: answered where the page asks them.
        age = page.get_by_role("group", name="What is your age?")
        if age.count():
            age.get_by_role("radio").first.check()
        months = page.locator('input[name="item-ay_months_since"]')
        if months.count():
            months.fill("2")
        page.get_by_role("button", name="Save and continue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Page 2 of \d+$"))
        response_id = page.url.split("/")[5]
    finally:
        context.close()

    status, draft = call(
        gunicorn.url, "GET", f"/api/v1/me/responses/{response_id}", None, bearer(token)
    )
    assert status == 200, draft
    assert draft["answers"]["ay_role"] == 3
    assert draft["answers"]["ay_role_other"] == "A friend who supports"
    assert problems == [], json.dumps(problems)
    assert [url for url in requests if not url.startswith(gunicorn.url)] == []

"""One browser and one service for the whole browser run (per xdist worker).

Chromium starts once per session; each journey opens its own contexts. The service is a
real gunicorn on its own database (named after the xdist worker, so two workers on one
PostgreSQL never drop each other's), with its access and error logs kept in a file so a
test can read them for tokens.

Debian's chromium is required (``.ci/run`` installs it when it is missing): a machine without
it fails here rather than skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.journey import Site
from tests.system.conftest import free_port
from tests.system.harness import Gunicorn, deploy


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed: apt-get install -y chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    port = free_port()
    folder = tmp_path_factory.mktemp("browser")
    deployment = deploy(
        f"psam_browser_{worker}",
        folder,
        PSAM_PUBLIC_URL=f"http://127.0.0.1:{port}",
        PSAM_LOG_LEVEL="INFO",
    )
    log = folder / "gunicorn.log"
    running = Gunicorn(deployment, port=port, workers=2, log=log).start()
    try:
        yield Site(running, deployment.researcher, log)
    finally:
        running.stop()

"""The docs page is served by the service itself: no third-party request, no inline script."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from flask.testing import FlaskClient

from service.api.docs_page import SWAGGER_UI_DIR


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href", "data-spec-url"):
            if found.get(name):
                self.addresses.append(str(found[name]))
        self._in_script = tag == "script" and "src" not in found
        if tag in ("style",) or "style" in found or any(n.startswith("on") for n in found):
            self.inline_scripts += 1

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_the_docs_page_loads_only_files_of_the_service(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    parsed = _Page()
    parsed.feed(page.get_data(as_text=True))
    assert "/api/v1/openapi.json" in parsed.addresses
    assert parsed.addresses and all(a.startswith("/") for a in parsed.addresses), parsed.addresses
    assert parsed.inline_scripts == 0
    for address in parsed.addresses:
        with client.get(address) as answer:
            assert answer.status_code == 200, address


def test_the_docs_page_is_under_a_policy_without_inline_scripts_or_other_origins(
    client: FlaskClient,
) -> None:
    policy = client.get("/api/v1/docs").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert "unsafe" not in policy and "http" not in policy
    # Every answer carries the same policy.
    assert client.get("/api/v1/instruments").headers["Content-Security-Policy"] == policy


def test_the_page_script_turns_off_the_online_validator(client: FlaskClient) -> None:
    script = client.get("/api/v1/docs/init.js")
    assert script.status_code == 200
    assert "validatorUrl: null" in script.get_data(as_text=True)


def test_swagger_ui_is_served_from_the_installed_package_with_its_licence_beside_it(
    client: FlaskClient,
) -> None:
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as bundle:
        assert bundle.status_code == 200
        assert bundle.get_data() == (SWAGGER_UI_DIR / "swagger-ui-bundle.js").read_bytes()
        version = bundle.headers["X-Swagger-UI-Version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    licences = list(SWAGGER_UI_DIR.parent.parent.parent.glob("swagger_ui_bundle_v2-*/licenses/*"))
    assert licences and "Apache" in licences[0].read_text()


def test_only_the_files_the_page_needs_are_served(client: FlaskClient) -> None:
    answer = client.get("/api/v1/docs/assets/index.html")
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"

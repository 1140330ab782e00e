"""The pages' frame: the look, help on every page, the headers, and files of our own only."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from tests.web.conftest import HTML, Page


def test_the_start_page_asks_for_the_access_code_with_help_one_tap_away(
    client: FlaskClient, read: Callable[..., Page]
) -> None:
    page = read(client, "/p/start")
    assert page.h1 == "Sign in with your access code"
    assert page.title == "Sign in with your access code - Peer Support After Miscarriage"
    assert "Access code" in page.labels
    assert "Skip to main content" in page.links
    assert "Get help now" in page.links
    assert page.href("Get help now") == "/p/help"


def test_the_help_page_lists_999_nhs_111_and_samaritans_as_telephone_links(
    client: FlaskClient, read: Callable[..., Page]
) -> None:
    page = read(client, "/p/help")
    assert page.h1 == "Get help now"
    assert page.href("999") == "tel:999"
    assert page.href("111") == "tel:111"
    assert page.href("116 123") == "tel:116123"


def test_a_page_forbids_inline_script_framing_and_referrers(client: FlaskClient) -> None:
    response = client.get("/p/start", headers=HTML)
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe-inline" not in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_page_loads_nothing_from_another_origin_and_has_no_inline_script(
    client: FlaskClient,
) -> None:
    html = client.get("/p/start", headers=HTML).get_data(as_text=True)
    addresses = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert addresses
    assert [a for a in addresses if not a.startswith(("/", "#", "tel:"))] == []
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    for address in addresses:
        if address.startswith("/p/assets/"):
            assert client.get(address).status_code == 200, address


def test_the_vendored_stylesheet_names_no_other_origin(client: FlaskClient) -> None:
    css = client.get("/p/assets/nhsuk-frontend-10.6.1/nhsuk-frontend.min.css")
    assert css.status_code == 200
    assert css.mimetype == "text/css"
    assert "http" not in css.get_data(as_text=True)
    for image in re.findall(r"url\(([^)]+)\)", css.get_data(as_text=True)):
        assert client.get(f"/p/assets/nhsuk-frontend-10.6.1/{image}").status_code == 200


def test_a_file_outside_the_static_folder_is_not_served(client: FlaskClient) -> None:
    assert client.get("/p/assets/../participant.py").status_code == 404
    assert client.get("/p/assets/nothing-here.css").status_code == 404


def test_a_page_that_does_not_exist_is_a_page_a_person_can_read(
    client: FlaskClient, read: Callable[..., Page]
) -> None:
    page = read(client, "/p/assets/nothing-here.css", status=404)
    assert page.h1 == "Page not found"


def test_the_pages_stay_out_of_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert [p for p in paths if p.startswith("/p/")] == []

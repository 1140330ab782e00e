"""Signing the consent form on its page: each clause a checkbox, the typed name, the receipt."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.web.conftest import HTML, Page
from tests.web.test_session import sign_in


@pytest.fixture
def signed_in(client: FlaskClient, auth: Callable[..., dict[str, str]]) -> FlaskClient:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    sign_in(client, made["token"])
    return client


def form_fields(client: FlaskClient, page: Page) -> dict[str, str]:
    form = client.get("/api/v1/consent/form").get_json()
    return {
        "csrf_token": page.csrf,
        "form_version": form["version"],
        "form_hash": form["sha256"],
    }


def test_the_consent_page_shows_each_clause_and_says_which_are_needed(
    client: FlaskClient, signed_in: FlaskClient, read: Callable[..., Page]
) -> None:
    form = client.get("/api/v1/consent/form").get_json()
    page = read(client, "/p/consent")
    assert page.h1 == form["title"]
    for clause in form["clauses"]:
        assert clause["text"] in page.labels
    required = sum(1 for c in form["clauses"] if c["required"])
    assert page.text.count("You need to agree to this to take part") == required
    assert "Your full name" in page.labels


def box_of(form: dict, clause_id: str) -> str:
    """The fragment of a clause's checkbox: the macro numbers the boxes from 1 after the
    first (which takes the group's id), in the form's order."""
    position = [c["id"] for c in form["clauses"]].index(clause_id) + 1
    return "#clauses" if position == 1 else f"#clauses-{position}"


def test_signing_without_the_needed_clauses_or_a_name_names_each_fault(
    client: FlaskClient, signed_in: FlaskClient, read: Callable[..., Page]
) -> None:
    form = client.get("/api/v1/consent/form").get_json()
    page = read(client, "/p/consent")
    answer = client.post("/p/consent", data=form_fields(client, page), headers=HTML)
    assert answer.status_code == 200
    errors = Page(answer.get_data(as_text=True))
    assert errors.title.startswith("Error: ")
    assert "There is a problem" in errors.text
    assert errors.href("Type your full name to sign") == "#typed-name"
    assert errors.href("Tick the box to agree to having read the information sheet") == "#clauses"
    assert errors.href("Tick the box to agree to taking part in the study") == box_of(
        form, "c_take_part"
    )
    ticks = [link for link in errors.links if link.startswith("Tick the box to agree to")]
    assert len(ticks) == sum(c["required"] for c in form["clauses"])
    for clause in form["clauses"]:  # short: no clause's whole text in an error
        assert not any(clause["text"] in link for link in errors.links)
    assert "Error: Tick each box that says you need to agree to it to take part" in errors.text
    assert client.get("/api/v1/me").status_code == 401  # the cookie opens pages, not the API
    assert read(client, "/p/").links.count("Read and sign the consent form") == 1


def test_a_signed_form_gives_a_receipt_listing_what_was_agreed(
    client: FlaskClient, signed_in: FlaskClient, read: Callable[..., Page]
) -> None:
    form = client.get("/api/v1/consent/form").get_json()
    page = read(client, "/p/consent")
    data = {
        **form_fields(client, page),
        "clauses": [c["id"] for c in form["clauses"]],
        "typed_name": "Sam Participant",
    }
    answer = client.post("/p/consent", data=data, headers=HTML)
    assert answer.status_code == 303
    receipt = read(client, answer.headers["Location"])
    assert "You have signed the consent form" in receipt.text
    assert "Record number" in receipt.text
    for clause in form["clauses"]:
        assert f"{clause['text']}: Yes" in receipt.text
    assert "Read and sign the consent form" not in read(client, "/p/").links


def test_a_form_changed_since_the_page_was_opened_asks_to_read_it_again(
    client: FlaskClient, signed_in: FlaskClient, read: Callable[..., Page]
) -> None:
    form = client.get("/api/v1/consent/form").get_json()
    page = read(client, "/p/consent")
    data = {
        **form_fields(client, page),
        "form_hash": "0" * 64,
        "clauses": [c["id"] for c in form["clauses"]],
        "typed_name": "Sam Participant",
    }
    answer = Page(client.post("/p/consent", data=data, headers=HTML).get_data(as_text=True))
    assert "The consent form has changed since you opened this page" in answer.text


def test_the_consent_page_says_what_signing_means(
    signed_in: FlaskClient, read: Callable[..., Page]
) -> None:
    page = read(signed_in, "/p/consent")
    assert "What signing means" in page.headings
    assert "Typing your name below is your signature" in page.text
    assert "you can leave the study at any time" in page.text


def _sign(client: FlaskClient, read: Callable[..., Page], name: str) -> Page:
    form = client.get("/api/v1/consent/form").get_json()
    page = read(client, "/p/consent")
    data = {
        **form_fields(client, page),
        "clauses": [c["id"] for c in form["clauses"] if c["required"]],
        "typed_name": name,
    }
    answer = client.post("/p/consent", data=data, headers=HTML)
    assert answer.status_code == 303
    return read(client, answer.headers["Location"])


def test_the_receipt_downloads_as_a_pdf_with_the_record_and_the_clauses(
    client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    sign_in(client, made["token"])
    receipt = _sign(client, read, "Zebedee Quartermaine")
    address = receipt.href("Download your receipt")
    assert address == "/p/consent/receipt.pdf"
    answer = client.get(address, headers=HTML)
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    body = answer.data
    assert body.startswith(b"%PDF-")
    mine = client.get("/api/v1/consent/form").get_json()
    entry = next(
        e
        for e in client.get(
            f"/api/v1/participants/{made['study_id']}", headers=auth("researcher")
        ).get_json()["events"]
        if e["type"] == "consent"
    )
    assert f"({entry['seq']})".encode() in body
    assert entry["hash"].encode() in body
    assert f"({mine['version']})".encode() in body
    assert b"Yes: I agree to take part in the above study." in body
    assert b"No: I agree to be contacted about taking part in an interview." in body
    # Raw bytes: no token, no study ID, and not the typed name either.
    assert made["token"].encode() not in body
    assert made["study_id"].encode() not in body
    assert b"Zebedee" not in body
    assert b"Quartermaine" not in body


def test_without_a_signed_form_there_is_no_receipt_to_download(
    signed_in: FlaskClient, read: Callable[..., Page]
) -> None:
    answer = signed_in.get("/p/consent/receipt.pdf", headers=HTML)
    assert answer.status_code == 404
    assert answer.mimetype == "text/html"


def test_one_needed_box_left_blank_is_named_by_its_short_name_beside_the_boxes(
    client: FlaskClient, signed_in: FlaskClient, read: Callable[..., Page]
) -> None:
    form = client.get("/api/v1/consent/form").get_json()
    page = read(client, "/p/consent")
    data = {
        **form_fields(client, page),
        "clauses": [c["id"] for c in form["clauses"] if c["id"] != "c_take_part"],
        "typed_name": "Sam Participant",
    }
    errors = Page(client.post("/p/consent", data=data, headers=HTML).get_data(as_text=True))
    assert errors.href("Tick the box to agree to taking part in the study") == box_of(
        form, "c_take_part"
    )
    assert "Error: Tick the box to agree to taking part in the study" in errors.text
    assert "Tick each box" not in errors.text

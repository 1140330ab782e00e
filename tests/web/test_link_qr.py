"""The QR code of the participant's link: in the answers that show the token, and nowhere
else; a well-formed SVG whose text holds no token."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Callable

import segno
from flask.testing import FlaskClient

from service.web.links import QR_SVG

SVG = "{http://www.w3.org/2000/svg}"


def _segno_svg(link: str) -> str:
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", **QR_SVG)
    return buffer.getvalue().decode("utf-8")


def _check_qr(body: dict[str, str]) -> ET.Element:
    svg = body["link_qr_svg"]
    root = ET.fromstring(svg)  # well-formed, or this raises
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title") is not None
    assert any(True for _ in root.iter(f"{SVG}path"))
    token = body["token"]
    assert token not in svg
    assert token.encode() not in svg.encode("utf-8")
    assert "token=" not in svg
    for element in root.iter():
        assert all(token not in value for value in element.attrib.values())
        assert token not in (element.text or "")
    assert svg == _segno_svg(body["link"])
    return root


def test_the_enrolment_answer_carries_the_qr_code_of_the_link(
    client: FlaskClient, auth: Callable[..., dict[str, str]]
) -> None:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher"))
    assert made.status_code == 201
    root = _check_qr(made.get_json())
    assert int(root.attrib["width"]) >= 100


def test_a_new_token_comes_with_the_qr_code_of_its_new_link(
    client: FlaskClient, auth: Callable[..., dict[str, str]]
) -> None:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    again = client.post(
        f"/api/v1/participants/{made['study_id']}/token", headers=auth("researcher")
    )
    assert again.status_code == 201
    body = again.get_json()
    _check_qr(body)
    assert body["link_qr_svg"] != made["link_qr_svg"]


def test_the_qr_code_is_in_no_other_answer_about_the_participant(
    client: FlaskClient, auth: Callable[..., dict[str, str]]
) -> None:
    made = client.post("/api/v1/participants", json={}, headers=auth("researcher")).get_json()
    detail = client.get(f"/api/v1/participants/{made['study_id']}", headers=auth("researcher"))
    assert detail.status_code == 200
    assert b"<svg" not in detail.data
    assert "link_qr_svg" not in detail.get_json()


def test_the_openapi_document_describes_the_qr_code(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    for name in ("Enrolment", "NewToken"):
        schema = document["components"]["schemas"][name]
        assert "link_qr_svg" in schema["required"]
        assert "SVG" in schema["properties"]["link_qr_svg"]["description"]

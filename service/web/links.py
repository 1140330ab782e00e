"""The participant's link: the start page with the token in the fragment, and its QR code.

A browser never sends a URL's fragment to a server, so the token stays out of the server's
logs, out of any proxy's and out of a ``Referer``; the start page's script takes it out of
the address bar and exchanges it for a session (service/web/participant.py).

The QR code is made here, in the one answer that shows the token (enrolment, a new token),
for a letter: an SVG document of the code's modules only. The link is in its dark squares,
nowhere in its text, so the SVG holds no more than the link itself does.
"""

from __future__ import annotations

import io

import segno
from flask import current_app

# 4 px modules with the 4-module quiet zone a phone's camera needs; black on white; no
# classes, no XML declaration (it is pasted into a letter's template).
QR_SVG = {
    "scale": 4,
    "border": 4,
    "xmldecl": False,
    "svgclass": None,
    "lineclass": None,
    "dark": "#000",
    "light": "#fff",
    "title": "QR code of the study link",
}


def participant_link(token: str) -> str:
    """The address a participant opens, from PSAM_PUBLIC_URL."""
    return f"{current_app.config['PSAM_PUBLIC_URL']}/p/start#token={token}"


def link_qr_svg(link: str) -> str:
    """The QR code of a link as a standalone SVG document."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(buffer, kind="svg", **QR_SVG)
    return buffer.getvalue().decode("utf-8")


def link_fields(token: str) -> dict[str, str]:
    """The link and its QR code, for an answer that shows the token (this once)."""
    link = participant_link(token)
    return {"link": link, "link_qr_svg": link_qr_svg(link)}

"""The participant's link: the start page with the token in the fragment.

A browser never sends a URL's fragment to a server, so the token stays out of the server's
logs, out of any proxy's and out of a ``Referer``; the start page's script takes it out of
the address bar and exchanges it for a session (service/web/participant.py).
"""

from __future__ import annotations

from flask import current_app


def participant_link(token: str) -> str:
    """The address a participant opens, from PSAM_PUBLIC_URL."""
    return f"{current_app.config['PSAM_PUBLIC_URL']}/p/start#token={token}"

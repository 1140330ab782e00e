"""How a message leaves: one interface, ``Channel.send``, and its adapters (smtp.py).

A channel knows nothing of the outbox: the worker hands it a rendered message and records
what happened. Its errors carry a reason written here (an error class, a reply code), never a
server's own text, which can quote the address or the credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message: ``message_id`` comes from the outbox row, so a resend after a crash
    carries the same ``Message-ID`` and a mail system can recognise the duplicate."""

    message_id: str
    to: str
    subject: str
    body: str


class DeliveryError(Exception):
    """A send that did not happen. ``permanent``: retrying cannot help (a 5xx reply)."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason[:200]
        self.permanent = permanent


class Channel(Protocol):
    def send(self, message: OutgoingMessage) -> None:
        """Hand the message over, or raise DeliveryError."""

"""A real SMTP server for tests (aiosmtpd on a free port), keeping what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Keep:
    def __init__(self, box: Mailbox):
        self.box = box

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self.box.lock:
            self.box.raw.append(bytes(envelope.content))
            self.box.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class Mailbox:
    """An SMTP server on 127.0.0.1; ``url`` is the PSAM_SMTP_URL that reaches it. It can be
    stopped and started again on the same port (an SMTP server that goes down and comes back)."""

    def __init__(self, port: int | None = None, delay: float = 0.0):
        self.port = port or free_port()
        self.delay = delay  # seconds before each message is accepted (a slow server)
        self.raw: list[bytes] = []
        self.recipients: list[list[str]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> Mailbox:
        # A server name given, so that no connection waits on a lookup of this host's name.
        self.controller = Controller(
            _Keep(self), hostname="127.0.0.1", port=self.port, server_hostname="mailbox.test"
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.raw)
        return [
            email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[misc]
            for data in raw
        ]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages()]

    def wait_for(self, count: int, seconds: float) -> list[EmailMessage]:
        """The messages once there are ``count`` of them (or as many as came in time)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(self.raw) < count:
            time.sleep(0.05)
        return self.messages()

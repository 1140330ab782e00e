"""Email by SMTP: ``smtp://[user:pass@]host[:port]`` (STARTTLS when the server offers it)
or ``smtps://user:pass@host[:465]`` (TLS from the first byte)."""

from __future__ import annotations

import functools
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from service.channels import DeliveryError, OutgoingMessage

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
TIMEOUT_SECONDS = 20


def check_smtp_url(url: str) -> None:
    """ValueError naming what is wrong with an SMTP URL (without repeating a password)."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("must start with smtp:// or smtps://")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when asked)
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("names no host, e.g. smtp://127.0.0.1:1025")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("has a path, query or fragment: give scheme://[user:pass@]host[:port]")
    if (parts.username is None) != (parts.password is None):
        raise ValueError("gives a user without a password, or a password without a user")


class SmtpChannel:
    """Sends each message over its own SMTP connection (a worker sends few; a connection
    that a server dropped between messages cannot then fail the next one)."""

    def __init__(self, url: str, sender: str, *, timeout: float = TIMEOUT_SECONDS):
        check_smtp_url(url)
        parts = urlsplit(url)
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or ""
        self.port = parts.port or DEFAULT_PORTS[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout
        self.domain = sender.rpartition("@")[2] or "localhost"
        # The EHLO name: the sender's domain, so that no connection waits on a lookup of this
        # host's own name (smtplib's default), which can take seconds where DNS is slow.
        self.ehlo_name = self.domain

    def email(self, message: OutgoingMessage) -> EmailMessage:
        """The message as it goes on the wire."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{message.message_id}@{self.domain}>"
        # Auto-replies (out of office) are not sent back to an automated message.
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.body)
        return mail

    def send(self, message: OutgoingMessage) -> None:
        try:
            with self._connect() as smtp:
                if self.user is not None and self.password is not None:
                    smtp.login(self.user, self.password)
                smtp.send_message(self.email(message))
        except smtplib.SMTPResponseException as exc:
            # The code alone: the server's text can quote the recipient's address.
            raise DeliveryError(
                f"{type(exc).__name__}: {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _text in exc.recipients.values()})
            raise DeliveryError(
                f"recipient refused: {','.join(map(str, codes))}",
                permanent=all(500 <= c < 600 for c in codes),
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}") from None

    @functools.cached_property
    def tls_context(self) -> ssl.SSLContext:
        """Made once: loading the system's CA certificates costs about 90 ms."""
        return ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.tls:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.ehlo_name,
                timeout=self.timeout,
                context=self.tls_context,
            )
        smtp = smtplib.SMTP(
            self.host, self.port, local_hostname=self.ehlo_name, timeout=self.timeout
        )
        try:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

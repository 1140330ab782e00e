"""The SMTP channel against a real server: STARTTLS when offered, certificates verified, and
errors that name no address and no password."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.channels import DeliveryError, OutgoingMessage
from service.channels.smtp import SmtpChannel
from tests.mailbox import free_port

MESSAGE = OutgoingMessage("0b7c7c0e-1f7e-4a55-9d6a-0d2c5a1b9e11", "to@example.org", "Hi", "Body")


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Recorder:
    def __init__(self) -> None:
        self.sessions: list[Any] = []

    async def handle_DATA(self, _server: Any, session: Any, _envelope: Any) -> str:
        self.sessions.append(session)
        return "250 OK"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Controller, Recorder, Path]]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = Recorder()
    server = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        server_hostname="mail.test",
        tls_context=context,
        require_starttls=True,
    )
    server.start()
    yield server, recorder, cert
    server.stop()


def test_starttls_is_used_when_offered_and_an_untrusted_certificate_stops_the_send(
    tls_server: tuple[Controller, Recorder, Path],
) -> None:
    server, recorder, cert = tls_server
    channel = SmtpChannel(f"smtp://127.0.0.1:{server.port}", "study@example.org", timeout=5)
    with pytest.raises(DeliveryError) as refused:
        channel.send(MESSAGE)
    assert refused.value.reason == "SSLCertVerificationError"
    assert not refused.value.permanent
    assert recorder.sessions == []  # nothing went in the clear

    trusting = ssl.create_default_context(cafile=str(cert))
    channel.tls_context = trusting  # the deployment's CA store, here holding the test's CA
    channel.send(MESSAGE)
    [session] = recorder.sessions
    assert session.ssl is not None  # the message went over the upgraded connection


def test_a_password_in_the_url_is_used_to_log_in_and_never_appears_in_an_error() -> None:
    port = free_port()  # nothing listens there
    channel = SmtpChannel(f"smtp://mailer:Pa55%2Fword@127.0.0.1:{port}", "s@example.org")
    assert (channel.user, channel.password) == ("mailer", "Pa55/word")
    with pytest.raises(DeliveryError) as failed:
        channel.send(MESSAGE)
    assert failed.value.reason == "ConnectionRefusedError"
    assert "Pa55" not in str(failed.value) and "mailer" not in str(failed.value)


def test_the_message_id_is_made_from_the_outbox_id_and_the_sender_domain() -> None:
    mail = SmtpChannel("smtp://127.0.0.1:25", "study@example.org").email(MESSAGE)
    assert mail["Message-ID"] == f"<{MESSAGE.message_id}@example.org>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["From"] == "study@example.org" and mail["To"] == "to@example.org"

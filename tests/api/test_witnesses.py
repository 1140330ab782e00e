"""Witnesses over HTTP: an auditor registers a key, an admin approves it, the witness
co-signs a checkpoint, and psam-verify then demands K independent co-signatures. Each staff
action writes exactly one access-log event."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from service.domain.signed_note import key_hash
from tests.conftest import valid_signature

Headers = dict[str, str]
PSAM_VERIFY = str(Path(sys.executable).parent / "psam-verify")


def pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


@pytest.fixture
def auditor(auth: Callable[..., Headers]) -> Headers:
    return auth("auditor")


@pytest.fixture
def admin(auth: Callable[..., Headers]) -> Headers:
    return auth("admin")


@pytest.fixture
def signed_log(app: Flask, client: FlaskClient, auth: Callable[..., Headers]) -> None:
    """Three consents and a checkpoint covering them."""
    researcher = auth("researcher")
    for _ in range(3):
        made = client.post("/api/v1/participants", json={}, headers=researcher).get_json()
        own = {"Authorization": f"Bearer {made['token']}"}
        assert (
            client.post("/api/v1/me/consent", json=valid_signature(client), headers=own).status_code
            == 201
        )
    assert (
        app.test_cli_runner().invoke(args=["audit", "checkpoint", "--log", "consent"]).exit_code
        == 0
    )


def access_actions(client: FlaskClient, auditor: Headers) -> list[str]:
    page = client.get("/api/v1/audit/access-log?limit=1000", headers=auditor).get_json()
    return [entry["event"]["action"] for entry in page["entries"]]


def latest_checkpoint(client: FlaskClient, auditor: Headers) -> dict[str, Any]:
    listed = client.get("/api/v1/audit/checkpoints?log=consent", headers=auditor).get_json()
    return listed["checkpoints"][-1]


def cosign(
    client: FlaskClient,
    auditor: Headers,
    checkpoint: dict[str, Any],
    witness_id: str,
    key: Ed25519PrivateKey,
) -> Any:
    body = checkpoint["note"].split("\n\n")[0] + "\n"
    signature = base64.b64encode(key.sign(body.encode("utf-8"))).decode("ascii")
    return client.post(
        f"/api/v1/audit/checkpoints/{checkpoint['id']}/cosign",
        json={"witness_id": witness_id, "signature": signature},
        headers=auditor,
    )


def register(
    client: FlaskClient, auditor: Headers, name: str, key: Ed25519PrivateKey
) -> dict[str, Any]:
    made = client.post(
        "/api/v1/audit/witnesses", json={"name": name, "public_key": pem(key)}, headers=auditor
    )
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def test_register_approve_and_cosign_each_write_one_access_log_event(
    client: FlaskClient, signed_log: None, auditor: Headers, admin: Headers
) -> None:
    key = Ed25519PrivateKey.generate()
    steps: list[tuple[str, Callable[[], Any], int]] = []
    witness: dict[str, Any] = {}

    def do_register() -> Any:
        witness.update(register(client, auditor, "witness.example", key))
        return witness

    steps = [
        ("audit.witness.register", do_register, 0),
        (
            "audit.witness.approve",
            lambda: client.post(f"/api/v1/audit/witnesses/{witness['id']}/approve", headers=admin),
            200,
        ),
    ]
    for action, call, status in steps:
        before = access_actions(client, auditor)
        answer = call()
        if status:
            assert answer.status_code == status, answer.get_json()
        after = access_actions(client, auditor)
        # The reads of the log are recorded too: one for the "before" read, one new action.
        assert after[len(before) :] == ["audit.access-log.read", action]
    checkpoint = latest_checkpoint(client, auditor)
    before = access_actions(client, auditor)
    assert cosign(client, auditor, checkpoint, witness["id"], key).status_code == 201
    assert access_actions(client, auditor)[len(before) :] == [
        "audit.access-log.read",
        "audit.checkpoint.cosign",
    ]
    assert witness["key_hash"] == key_hash("witness.example", key.public_key()).hex()
    assert witness["approved"] is False


def test_a_pending_witness_cannot_cosign_and_nothing_is_recorded(
    client: FlaskClient, signed_log: None, auditor: Headers
) -> None:
    key = Ed25519PrivateKey.generate()
    witness = register(client, auditor, "pending.example", key)
    before = access_actions(client, auditor)
    refused = cosign(client, auditor, latest_checkpoint(client, auditor), witness["id"], key)
    assert refused.status_code == 422
    assert "witness_id" in refused.get_json()["errors"]
    # Only the reads: the earlier page read and the checkpoint list; no cosign event.
    assert access_actions(client, auditor)[len(before) :] == [
        "audit.access-log.read",
        "audit.checkpoints.read",
    ]


def test_a_cosignature_by_another_key_is_refused_and_a_second_one_conflicts(
    client: FlaskClient, signed_log: None, auditor: Headers, admin: Headers
) -> None:
    key, impostor = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    witness = register(client, auditor, "witness.example", key)
    assert (
        client.post(f"/api/v1/audit/witnesses/{witness['id']}/approve", headers=admin).status_code
        == 200
    )
    again = client.post(f"/api/v1/audit/witnesses/{witness['id']}/approve", headers=admin)
    assert again.status_code == 409
    checkpoint = latest_checkpoint(client, auditor)
    wrong = cosign(client, auditor, checkpoint, witness["id"], impostor)
    assert wrong.status_code == 422 and "signature" in wrong.get_json()["errors"]
    assert cosign(client, auditor, checkpoint, witness["id"], key).status_code == 201
    assert cosign(client, auditor, checkpoint, witness["id"], key).status_code == 409


@pytest.mark.parametrize(
    ("name", "public_key"),
    [
        ("has space", None),
        ("psam/consent-log", None),
        ("ok.name", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"),
    ],
)
def test_a_witness_with_a_bad_name_or_key_is_refused(
    client: FlaskClient, auditor: Headers, name: str, public_key: str | None
) -> None:
    body = {"name": name, "public_key": public_key or pem(Ed25519PrivateKey.generate())}
    refused = client.post("/api/v1/audit/witnesses", json=body, headers=auditor)
    assert refused.status_code == 422


def run_verify(export: Path, key: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PSAM_VERIFY, str(export), "--public-key", str(key), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_verifier_requires_k_independent_cosignatures_from_the_keys_given(
    app: Flask,
    client: FlaskClient,
    signed_log: None,
    auditor: Headers,
    admin: Headers,
    tmp_path: Path,
) -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    ids = []
    for n, key in enumerate(keys):
        witness = register(client, auditor, f"witness-{n}.example", key)
        assert (
            client.post(
                f"/api/v1/audit/witnesses/{witness['id']}/approve", headers=admin
            ).status_code
            == 200
        )
        ids.append(witness["id"])
        (tmp_path / f"w{n}.pem").write_text(pem(key))
    checkpoint = latest_checkpoint(client, auditor)
    for n in (0, 1):
        assert cosign(client, auditor, checkpoint, ids[n], keys[n]).status_code == 201
    export, service_key = tmp_path / "consent.jsonl", tmp_path / "key.pem"
    written = app.test_cli_runner().invoke(
        args=["audit", "export", "--out", str(export), "--public-key-out", str(service_key)]
    )
    assert written.exit_code == 0, written.output
    w = [str(tmp_path / f"w{n}.pem") for n in range(3)]

    assert run_verify(export, service_key, "--witness", w[0]).returncode == 0
    two = run_verify(
        export, service_key, "--witness", w[0], "--witness", w[1], "--min-witnesses", "2"
    )
    assert two.returncode == 0, two.stdout + two.stderr
    # The same key twice is one witness, not two.
    same = run_verify(
        export, service_key, "--witness", w[0], "--witness", w[0], "--min-witnesses", "2"
    )
    assert same.returncode == 2
    # The third witness did not co-sign: two of {0, 2} is not met.
    short = run_verify(
        export, service_key, "--witness", w[0], "--witness", w[2], "--min-witnesses", "2"
    )
    assert short.returncode == 1, short.stdout
    assert "not signed and witnessed" in short.stdout

    # A co-signature changed in the file no longer counts, and is named.
    text = export.read_text(encoding="utf-8")
    # Inside the JSON line the note's newlines are written as a backslash and an n.
    line = next(part for part in text.split("\\n") if part.startswith("\u2014 witness-0.example "))
    blob = base64.b64decode(line.split(" ")[2])
    forged = line.replace(
        line.split(" ")[2], base64.b64encode(blob[:-1] + bytes([blob[-1] ^ 1])).decode()
    )
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(text.replace(line, forged), encoding="utf-8")
    result = run_verify(tampered, service_key, "--witness", w[0])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "co-signature of witness-0.example" in result.stdout

"""Checkpoint notes: C2SP's key hash, one spelling per note, strict parsing."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.domain.signed_note import (
    CheckpointBody,
    NoteError,
    key_hash,
    parse,
    render,
    sign_body,
    signature_holds,
)

KEY = Ed25519PrivateKey.generate()
BODY = CheckpointBody("consent", 12, "ab" * 32, "2026-11-26T14:00:00.000000Z")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ROOT = base64.b64encode(bytes.fromhex("ab" * 32)).decode("ascii")
# The same 32 bytes to a lenient decoder: the last character's unused low bits are set.
LENIENT_ROOT = ROOT[:-2] + ALPHABET[ALPHABET.index(ROOT[-2]) | 1] + "="


def test_the_key_hash_is_the_one_of_c2sp_signed_note() -> None:
    # The verifier key "PeterNeumann+c74f20a3+ARpc2Qc..." from golang.org/x/mod/sumdb/note.
    encoded = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    key = Ed25519PublicKey.from_public_bytes(encoded[1:])
    assert key_hash("PeterNeumann", key).hex() == "c74f20a3"


def test_a_note_reads_as_it_was_written() -> None:
    signature = sign_body(KEY, "psam/consent-log", BODY)
    note = render(BODY, [signature])
    assert note.startswith(
        "psam/consent-log\n12\n" + base64.b64encode(bytes.fromhex("ab" * 32)).decode()
    )
    assert "\n\n\u2014 psam/consent-log " in note
    body, signatures = parse(note)
    assert body == BODY and signatures == [signature]
    assert signature_holds(KEY.public_key(), body, signatures[0])


def _respell(note: str, old: str, new: str) -> str:
    changed = note.replace(old, new, 1)
    assert changed != note
    return changed


@pytest.mark.parametrize(
    ("label", "change"),
    [
        ("a leading zero in the size", lambda n: _respell(n, "\n12\n", "\n012\n")),
        ("no blank line", lambda n: _respell(n, "\n\n", "\n")),
        ("no signature", lambda n: n.split("\n\n")[0] + "\n\n"),
        ("another origin", lambda n: _respell(n, "psam/consent-log\n", "psam/other\n")),
        ("an extra body line", lambda n: _respell(n, "\n\n", "\nextra\n\n")),
        ("a missing final newline", lambda n: n[:-1]),
        ("a root hash in another base64 spelling", lambda n: _respell(n, ROOT, LENIENT_ROOT)),
        ("a hyphen for the dash", lambda n: _respell(n, "\u2014 ", "- ")),
    ],
)
def test_a_note_in_any_other_spelling_is_refused(label: str, change) -> None:
    note = render(BODY, [sign_body(KEY, "psam/consent-log", BODY)])
    with pytest.raises(NoteError):
        parse(change(note))

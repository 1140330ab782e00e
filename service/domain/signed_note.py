"""Checkpoints as signed notes, modelled on C2SP's signed-note and tlog-checkpoint formats.

A checkpoint's body is four lines, each ending in a newline:

    psam/consent-log                       origin: names the log
    12                                     tree size: the log's length, in decimal
    3q2+7w...=                             base64 of the 32-byte head hash (not a Merkle root)
    time 2026-11-26T14:00:00.000000Z       an extension line: when it was signed (UTC)

then a blank line and one signature line per signer, ``— <name> <base64(keyhash || sig)>``,
where ``keyhash`` is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || Ed25519 public key)
and ``sig`` is Ed25519 over the body bytes. The service signs with the name of the origin;
witnesses co-sign the same body bytes under their own names. Parsing is strict: one spelling
per note, so a changed byte is never a different spelling of the same note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ORIGIN_PREFIX = "psam/"
ORIGIN_SUFFIX = "-log"
SIGNATURE_DASH = "\u2014"
ED25519_TYPE = b"\x01"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_TIME = re.compile(r"time (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z)")


class NoteError(ValueError):
    """The text is not a well-formed checkpoint note."""


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes  # 4 bytes
    signature: bytes  # 64 bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_hash + self.signature).decode("ascii")
        return f"{SIGNATURE_DASH} {self.name} {blob}\n"


@dataclass(frozen=True)
class CheckpointBody:
    log: str
    length: int
    head_hash: str  # hex
    time: str

    def text(self) -> str:
        root = base64.b64encode(bytes.fromhex(self.head_hash)).decode("ascii")
        return f"{origin(self.log)}\n{self.length}\n{root}\ntime {self.time}\n"

    def bytes(self) -> bytes:
        return self.text().encode("utf-8")


def origin(log: str) -> str:
    """The origin line (and the service's key name) of a log."""
    return f"{ORIGIN_PREFIX}{log}{ORIGIN_SUFFIX}"


def valid_key_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """C2SP signed-note key hash: binds a signature line to a name and a key."""
    material = name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key.public_bytes_raw()
    return hashlib.sha256(material).digest()[:4]


def sign_body(key: Ed25519PrivateKey, name: str, body: CheckpointBody) -> NoteSignature:
    return NoteSignature(name, key_hash(name, key.public_key()), key.sign(body.bytes()))


def signature_holds(public_key: Ed25519PublicKey, body: CheckpointBody, sig: NoteSignature) -> bool:
    """True when the line names this key and its signature over the body verifies."""
    if sig.key_hash != key_hash(sig.name, public_key):
        return False
    try:
        public_key.verify(sig.signature, body.bytes())
    except InvalidSignature:
        return False
    return True


def render(body: CheckpointBody, signatures: list[NoteSignature]) -> str:
    return body.text() + "\n" + "".join(sig.line() for sig in signatures)


def _strict_b64(text: str, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None
    # Re-encoding refuses the spellings a lenient decoder accepts (unused low bits set).
    if len(raw) != size or base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not the base64 of {size} bytes")
    return raw


def parse(note: str) -> tuple[CheckpointBody, list[NoteSignature]]:
    """The body and signature lines of a checkpoint note; NoteError when it is not one."""
    if not note.endswith("\n"):
        raise NoteError("a note ends with a newline")
    body_text, separator, signature_text = note.partition("\n\n")
    if not separator:
        raise NoteError("no blank line between the body and the signatures")
    lines = body_text.split("\n")
    if len(lines) != 4:
        raise NoteError("the body is not origin, size, root hash and time")
    first, size, root, time_line = lines
    if not (first.startswith(ORIGIN_PREFIX) and first.endswith(ORIGIN_SUFFIX)):
        raise NoteError("the origin does not name a log of this service")
    log = first[len(ORIGIN_PREFIX) : -len(ORIGIN_SUFFIX)]
    if _SIZE.fullmatch(size) is None:
        raise NoteError("the size is not a decimal number")
    head = _strict_b64(root, 32, "the root hash")
    matched = _TIME.fullmatch(time_line)
    if matched is None:
        raise NoteError("the time line is not 'time <UTC time>'")
    body = CheckpointBody(log, int(size), head.hex(), matched.group(1))
    if body.text() != body_text + "\n":
        raise NoteError("the body is not in its one spelling")
    signatures: list[NoteSignature] = []
    for line in signature_text[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != SIGNATURE_DASH or not valid_key_name(parts[1]):
            raise NoteError("a signature line is not '\u2014 <name> <base64>'")
        blob = _strict_b64(parts[2], 68, "a signature")
        signatures.append(NoteSignature(parts[1], blob[:4], blob[4:]))
    return body, signatures

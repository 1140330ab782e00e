"""Keys and envelope encryption.

A keyring holds key-encryption keys (KEKs) with states, as Tink's keysets do: one
``primary`` (wraps new data keys), ``enabled`` (unwraps only), ``disabled`` (kept but unusable)
and ``destroyed`` (material gone). It also holds an Ed25519 seed for signing ledger checkpoints
and an HMAC root from which one subkey per purpose is derived with HKDF; no key serves two jobs.

Each participant has a random 256-bit AES-GCM data key (DEK), stored wrapped by a KEK:

    wrapped = 0x01 | len(kek id) | kek id | dek id (16) | nonce (12) | ciphertext+tag

Every encrypted field is encrypted under its participant's DEK:

    field = 0x01 | dek id (16) | context tag (8) | nonce (12) | ciphertext+tag

Associated data is the header plus the length-prefixed context (purpose, table, column, row
id, study ID), so a ciphertext moved to another row, column or participant does not decrypt;
the context tag, a hash of that context, lets the error say which it was. Nothing in this
module puts key material in a repr, a message or an exception.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 1
KEYRING_FORMAT = "psam-keyring/1"
KEY_BYTES = 32
NONCE_BYTES = 12
DEK_ID_BYTES = 16
CONTEXT_TAG_BYTES = 8
_WRAP_INFO = b"psam/v1/kek/wrap-data-key"
HMAC_PURPOSES = {
    "signature-commitment": b"psam/v1/hmac/signature-commitment",
    "export-pseudonym": b"psam/v1/hmac/export-pseudonym",
    "rate-limit-client": b"psam/v1/hmac/rate-limit-client",
    "export-response-id": b"psam/v1/hmac/export-response-id",
    "web-session": b"psam/v1/hmac/web-session",
    "staff-session": b"psam/v1/hmac/staff-session",
}


class KeyState(Enum):
    PRIMARY = "primary"
    ENABLED = "enabled"
    DISABLED = "disabled"
    DESTROYED = "destroyed"


class CryptoError(Exception):
    """A ciphertext or key that cannot be used; messages never hold key material."""


class KeyringError(CryptoError):
    """A keyring that is missing, malformed or unsafe."""


class KeyUnavailableError(CryptoError):
    """The key a ciphertext needs is unknown, disabled or destroyed."""

    def __init__(self, key_id: str, reason: str):
        self.key_id = key_id
        super().__init__(f"key {key_id} is {reason}")


class FormatError(CryptoError):
    """Not a ciphertext of a format this code reads."""


class TamperedError(CryptoError):
    """The ciphertext does not authenticate: it was altered."""


class ContextMismatchError(CryptoError):
    """The ciphertext belongs to another row, column or participant."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise KeyringError(f"{what} is not base64") from None
    if len(data) != KEY_BYTES:
        raise KeyringError(f"{what} must be {KEY_BYTES} bytes")
    return data


def length_prefixed(*parts: str | bytes) -> bytes:
    """Join parts so that no two different lists of parts give the same bytes."""
    out = []
    for part in parts:
        raw = part.encode("utf-8") if isinstance(part, str) else part
        out.append(len(raw).to_bytes(4, "big"))
        out.append(raw)
    return b"".join(out)


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(material)


@dataclass(frozen=True)
class Kek:
    """A key-encryption key. Its material never shows in a repr."""

    id: str
    state: KeyState
    created_at: str
    material: bytes | None = None

    def __repr__(self) -> str:
        return f"Kek(id={self.id!r}, state={self.state.value!r})"


@dataclass(frozen=True)
class DataKey:
    """A participant's data key. Its material never shows in a repr."""

    id: bytes
    material: bytes
    aead: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "aead", AESGCM(self.material))

    def __repr__(self) -> str:
        return f"DataKey(id={self.id.hex()!r})"


def new_data_key() -> DataKey:
    return DataKey(secrets.token_bytes(DEK_ID_BYTES), AESGCM.generate_key(bit_length=256))


def new_kek_id(now: dt.datetime | None = None) -> str:
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d")
    return f"kek-{when}-{secrets.token_hex(4)}"


class Keyring:
    """KEKs with states, the checkpoint signing key and the HMAC root."""

    def __init__(self, keks: Iterable[Kek], signing_seed: bytes, hmac_root: bytes):
        self.keks = {k.id: k for k in keks}
        primaries = [k for k in self.keks.values() if k.state is KeyState.PRIMARY]
        if len(primaries) != 1:
            raise KeyringError(f"a keyring needs exactly one primary KEK, not {len(primaries)}")
        for kek in self.keks.values():
            if (kek.material is None) != (kek.state is KeyState.DESTROYED):
                raise KeyringError(f"KEK {kek.id}: only a destroyed key has no material")
        self.primary = primaries[0]
        self._signing_seed = signing_seed
        self._hmac_root = hmac_root
        self._wrapping: dict[str, AESGCM] = {}

    def __repr__(self) -> str:
        return f"Keyring(primary={self.primary.id!r}, keks={sorted(self.keks)!r})"

    @classmethod
    def generate(cls) -> Keyring:
        """A new keyring: one primary KEK, a signing key and an HMAC root."""
        kek = Kek(
            new_kek_id(),
            KeyState.PRIMARY,
            _now_text(),
            secrets.token_bytes(KEY_BYTES),
        )
        return cls([kek], secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES))

    # --- KEKs and data keys --------------------------------------------------------------

    def _usable(self, key_id: str) -> AESGCM:
        kek = self.keks.get(key_id)
        if kek is None:
            raise KeyUnavailableError(key_id, "not in this keyring")
        if kek.state in (KeyState.DISABLED, KeyState.DESTROYED) or kek.material is None:
            raise KeyUnavailableError(key_id, kek.state.value)
        if key_id not in self._wrapping:
            self._wrapping[key_id] = AESGCM(_hkdf(kek.material, _WRAP_INFO))
        return self._wrapping[key_id]

    def wrap_data_key(self, dek: DataKey, study_id: str) -> bytes:
        """Wrap a participant's data key under the primary KEK."""
        kid = self.primary.id.encode("ascii")
        header = bytes([FORMAT_VERSION, len(kid)]) + kid + dek.id
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = header + length_prefixed("data-key", study_id, kid)
        return header + nonce + self._usable(self.primary.id).encrypt(nonce, dek.material, aad)

    def unwrap_data_key(self, blob: bytes, study_id: str) -> DataKey:
        """Unwrap a data key; refused if it was altered or belongs to another participant."""
        kid, dek_id, header, rest = _parse_wrapped(blob)
        aead = self._usable(kid)
        nonce, sealed = rest[:NONCE_BYTES], rest[NONCE_BYTES:]
        try:
            material = aead.decrypt(
                nonce, sealed, header + length_prefixed("data-key", study_id, kid)
            )
        except InvalidTag:
            raise TamperedError(
                "wrapped data key does not authenticate (altered, or another participant's)"
            ) from None
        return DataKey(dek_id, material)

    # --- signing and MACs ------------------------------------------------------------------

    def signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 key that signs ledger checkpoints."""
        return Ed25519PrivateKey.from_private_bytes(self._signing_seed)

    def mac(self, purpose: str, message: bytes) -> bytes:
        """HMAC-SHA256 under the subkey derived for this purpose alone."""
        if purpose not in HMAC_PURPOSES:
            raise ValueError(f"unknown MAC purpose {purpose!r}")
        key = _hkdf(self._hmac_root, HMAC_PURPOSES[purpose])
        return hmac.new(key, message, hashlib.sha256).digest()

    # --- changes and serialisation ------------------------------------------------------

    def with_new_primary(self) -> Keyring:
        """A copy with a fresh primary KEK; the old primary stays enabled for unwrapping."""
        keks = [
            replace(k, state=KeyState.ENABLED) if k.state is KeyState.PRIMARY else k
            for k in self.keks.values()
        ]
        keks.append(
            Kek(new_kek_id(), KeyState.PRIMARY, _now_text(), secrets.token_bytes(KEY_BYTES))
        )
        return Keyring(keks, self._signing_seed, self._hmac_root)

    def with_destroyed(self, key_id: str) -> Keyring:
        """A copy in which one non-primary KEK is destroyed: its material is gone for good."""
        kek = self.keks.get(key_id)
        if kek is None:
            raise KeyringError(f"there is no KEK {key_id}")
        if kek.state is KeyState.PRIMARY:
            raise KeyringError(f"{key_id} is the primary KEK: rotate before retiring it")
        keks = [
            replace(k, state=KeyState.DESTROYED, material=None) if k.id == key_id else k
            for k in self.keks.values()
        ]
        return Keyring(keks, self._signing_seed, self._hmac_root)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": KEYRING_FORMAT,
            "keks": [
                {
                    "id": k.id,
                    "state": k.state.value,
                    "created_at": k.created_at,
                    "key": _b64(k.material) if k.material else None,
                }
                for k in self.keks.values()
            ],
            "signing": {"ed25519_seed": _b64(self._signing_seed)},
            "hmac": {"root": _b64(self._hmac_root)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Keyring:
        """Read a keyring document; errors say what is wrong, never what a key is."""
        try:
            if data.get("format") != KEYRING_FORMAT:
                raise KeyringError(f"not a keyring of format {KEYRING_FORMAT}")
            keks = []
            for raw in data["keks"]:
                state = KeyState(raw["state"])
                material = (
                    None if raw.get("key") is None else _unb64(raw["key"], f"KEK {raw['id']}")
                )
                keks.append(Kek(str(raw["id"]), state, str(raw["created_at"]), material))
            seed = _unb64(data["signing"]["ed25519_seed"], "the signing seed")
            root = _unb64(data["hmac"]["root"], "the HMAC root")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, KeyringError):
                raise
            raise KeyringError(f"malformed keyring ({type(exc).__name__} at {exc!s:.40})") from None
        return cls(keks, seed, root)

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise KeyringError("the keyring is not valid JSON") from None
        if not isinstance(data, dict):
            raise KeyringError("the keyring must be a JSON object")
        return cls.from_dict(data)


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_wrapped(blob: bytes) -> tuple[str, bytes, bytes, bytes]:
    if len(blob) < 2 or blob[0] != FORMAT_VERSION:
        raise FormatError("not a wrapped data key of a known format version")
    kid_len = blob[1]
    header_len = 2 + kid_len + DEK_ID_BYTES
    if len(blob) < header_len + NONCE_BYTES + 16:
        raise FormatError("wrapped data key is truncated")
    try:
        kid = blob[2 : 2 + kid_len].decode("ascii")
    except UnicodeDecodeError:
        raise FormatError("wrapped data key has a malformed key id") from None
    return kid, blob[2 + kid_len : header_len], blob[:header_len], blob[header_len:]


def wrapped_kek_id(blob: bytes) -> str:
    """The id of the KEK that wrapped a data key."""
    return _parse_wrapped(blob)[0]


# --- fields --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldContext:
    """Where an encrypted value lives; it is bound into the ciphertext."""

    table: str
    column: str
    row_id: str
    study_id: str

    def associated(self) -> bytes:
        return field_associated(self.table, self.column, self.row_id, self.study_id)

    def tag(self) -> bytes:
        return _context_tag(self.associated())


def _json_value(text: bytes) -> Any:
    """Parse a decrypted JSON value. orjson is several times faster than ``json``, which
    matters to exports, but reads an integer beyond 64 bits as a float; a value with a run of
    19 or more digits goes to ``json``, which keeps every integer exact."""
    if _LONG_DIGITS.search(text):
        return json.loads(text)
    return orjson.loads(text)


_LONG_DIGITS = re.compile(rb"[0-9]{19}")


@functools.lru_cache(maxsize=64)
def _field_prefix(table: str, column: str) -> bytes:
    return length_prefixed("field", table, column)


def field_associated(table: str, column: str, row_id: str, study_id: str) -> bytes:
    """The associated data binding a field to its place (``FieldContext.associated``)."""
    row, study = row_id.encode(), study_id.encode()  # length_prefixed, inlined: hot in exports
    row_len, study_len = len(row).to_bytes(4, "big"), len(study).to_bytes(4, "big")
    return b"".join((_field_prefix(table, column), row_len, row, study_len, study))


def _context_tag(associated: bytes) -> bytes:
    return hashlib.sha256(associated).digest()[:CONTEXT_TAG_BYTES]


_FIELD_HEADER = 1 + DEK_ID_BYTES + CONTEXT_TAG_BYTES


def encrypt_field(dek: DataKey, value: Any, context: FieldContext) -> bytes:
    """Encrypt any JSON value for one row's column; types survive the round trip."""
    plaintext = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    associated = context.associated()
    header = bytes([FORMAT_VERSION]) + dek.id + _context_tag(associated)
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = dek.aead.encrypt(nonce, plaintext.encode("utf-8"), header + associated)
    return header + nonce + sealed


def field_data_key_id(blob: bytes) -> bytes:
    """The id of the data key a field was encrypted under."""
    if len(blob) < _FIELD_HEADER or blob[0] != FORMAT_VERSION:
        raise FormatError("not an encrypted field of a known format version")
    return blob[1 : 1 + DEK_ID_BYTES]


def decrypt_field(dek: DataKey, blob: bytes, context: FieldContext) -> Any:
    """Decrypt a field, refusing one that was altered or moved from elsewhere."""
    return decrypt_field_at(
        dek, blob, context.table, context.column, context.row_id, context.study_id
    )


def decrypt_field_at(
    dek: DataKey, blob: bytes, table: str, column: str, row_id: str, study_id: str
) -> Any:
    """``decrypt_field`` with the context given part by part (for loops over many rows)."""
    if field_data_key_id(blob) != dek.id:
        raise ContextMismatchError("encrypted under another participant's data key")
    if len(blob) < _FIELD_HEADER + NONCE_BYTES + 16:
        raise FormatError("encrypted field is truncated")
    associated = field_associated(table, column, row_id, study_id)
    if not hmac.compare_digest(blob[1 + DEK_ID_BYTES : _FIELD_HEADER], _context_tag(associated)):
        raise ContextMismatchError(f"encrypted for another row or column, not {table}.{column}")
    header, rest = blob[:_FIELD_HEADER], blob[_FIELD_HEADER:]
    try:
        plaintext = dek.aead.decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], header + associated)
    except InvalidTag:
        raise TamperedError("encrypted field does not authenticate: it was altered") from None
    return _json_value(plaintext)

"""API token format: readable prefix, 256 random bits, checksum; only a SHA-256 is ever stored.

A token is ``<prefix><43 base62 chars of secret><6 base62 chars of CRC-32>``. The checksum
lets a client, a log scrubber or a secret scanner recognise a real token offline and lets
the service reject a mistyped one without touching the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from enum import Enum

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_LEN = 43  # 62**43 > 2**256, so 32 random bytes always fit
_CHECK_LEN = 6  # 62**6 > 2**32


class TokenKind(Enum):
    """Who a token belongs to, read from its prefix."""

    STAFF = "psam_s_"
    PARTICIPANT = "psam_p_"


def _base62(number: int, width: int) -> str:
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECK_LEN)


def generate_token(kind: TokenKind) -> str:
    """Return a new random token of the given kind."""
    body = kind.value + _base62(int.from_bytes(secrets.token_bytes(32), "big"), _SECRET_LEN)
    return body + _checksum(body)


def token_kind(token: str) -> TokenKind | None:
    """Return the token's kind when its prefix, length, alphabet and checksum are right."""
    for kind in TokenKind:
        if token.startswith(kind.value):
            break
    else:
        return None
    rest = token[len(kind.value) :]
    if len(rest) != _SECRET_LEN + _CHECK_LEN or any(c not in _ALPHABET for c in rest):
        return None
    body, check = token[:-_CHECK_LEN], token[-_CHECK_LEN:]
    return kind if hmac.compare_digest(_checksum(body), check) else None


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token: the only form in which a token is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_hint(token: str) -> str:
    """A short, non-secret label for listings: the prefix and four characters."""
    return token[: len(TokenKind.STAFF.value) + 4] + "..."


STAFF_ROLES = ("researcher", "analyst", "auditor", "admin")

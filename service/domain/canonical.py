"""Canonical JSON (RFC 8785) and the content hashes built on it."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Serialise a JSON value to its RFC 8785 canonical bytes."""
    return bytes(rfc8785.dumps(value))


def content_hash(value: Any) -> str:
    """Hex SHA-256 of the canonical JSON of a value."""
    return hashlib.sha256(canonical_json(value)).hexdigest()

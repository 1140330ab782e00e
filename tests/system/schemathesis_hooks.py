"""Schemathesis hooks for the API fuzz run: how to put a recording on the wire.

The recording route takes any ``audio/*`` body; schemathesis has no serializer for audio, so
a generated value goes out as ``audio/ogg`` bytes.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.serializer("audio/ogg")
def audio(_context: Any, value: Any) -> bytes:
    """A generated body as the bytes of a recording."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")

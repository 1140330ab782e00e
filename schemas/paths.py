"""Turn marshmallow's nested error messages into flat, readable field paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"items": {3: {"choices": ["bad"]}}}`` -> ``{"items[3].choices": ["bad"]}``.

    Schema-level messages (marshmallow's ``_schema`` key) belong to the object itself.
    """
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, sub in messages.items():
            if key == "_schema":
                path = prefix
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for p, msgs in flatten_messages(sub, path).items():
                flat.setdefault(p, []).extend(msgs)
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        flat[prefix] = list(messages)
    else:
        flat[prefix] = [str(messages)]
    return flat


def json_paths(messages: Any) -> list[tuple[str, str]]:
    """The same faults as ``$``-rooted JSON paths, one (path, message) pair each."""
    pairs: list[tuple[str, str]] = []
    for path, msgs in flatten_messages(messages).items():
        full = "$" if not path else ("$" + path if path.startswith("[") else "$." + path)
        pairs.extend((full, m) for m in msgs)
    return pairs

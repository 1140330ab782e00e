"""The checks a process makes before it serves: every setting, and a usable keyring.

Run by gunicorn's master before it forks (``on_starting`` in gunicorn.conf.py) and as the
first step of ``bin/psam-start``; ``psam-preflight`` runs them alone. A failure is
one line on stderr and a non-zero exit: no traceback, nothing served, nothing migrated.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from service.config import ConfigError, load_config
from service.domain.crypto import Keyring, KeyringError
from service.services.keyring import KeyringSource

# EX_CONFIG from sysexits.h: the configuration is wrong; restarting will not help.
EXIT_REFUSED = 78


class StartRefused(RuntimeError):
    """The service cannot start as configured."""


def preflight(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The checked settings, once the keyring they name has been read and parsed."""
    settings = load_config(env)
    source = KeyringSource(settings["PSAM_KEYRING"], settings["PSAM_KEYRING_JSON"])
    where = "PSAM_KEYRING_JSON" if settings["PSAM_KEYRING_JSON"] else "PSAM_KEYRING"
    try:
        source.current()
    except KeyringError as exc:
        raise StartRefused(f"no usable keyring ({where}): {exc}") from None
    return settings


@contextmanager
def refusal_exits() -> Iterator[None]:
    """Turn a bad setting or an unusable keyring into one line on stderr and an exit."""
    try:
        yield
    except (ConfigError, StartRefused) as exc:
        print(f"psam: refusing to start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_REFUSED) from None


def main() -> None:
    """``psam-preflight``: check, say so, exit 0; or refuse."""
    with refusal_exits():
        settings = preflight()
    source = "PSAM_KEYRING_JSON" if settings["PSAM_KEYRING_JSON"] else settings["PSAM_KEYRING"]
    print(f"psam: settings checked; keyring from {source} is usable", flush=True)


def print_new_keyring() -> None:
    """``psam-new-keyring``: a new keyring as JSON on stdout, for a secret store or file.

    Needs no settings, database or app, so it runs in a bare container before any secret
    exists (see README.md, "Deployment").
    """
    print(json.dumps(Keyring.generate().to_dict(), indent=2), flush=True)

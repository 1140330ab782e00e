"""The per-app resources a view or command reaches for: the keyring source."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.orm import Session

from service.domain.crypto import KeyringError
from service.services.audit import Trail
from service.services.keyring import KeyringSource
from service.services.ledger import LedgerWriter
from service.services.tokens import Principal
from service.startup import StartRefused


def init_keys(app: Flask) -> KeyringSource:
    """Attach the keyring source; an existing keyring file is checked now, not at first use."""
    source = KeyringSource(app.config["PSAM_KEYRING"], app.config["PSAM_KEYRING_JSON"])
    if not source.writable or (source.path is not None and source.path.exists()):
        try:
            source.current()
        except KeyringError as exc:
            raise StartRefused(f"no usable keyring: {exc}") from None
    app.extensions["psam_keys"] = source
    return source


def ledger_writer(session: Session) -> LedgerWriter:
    """A writer for the logs in this session, signing checkpoints as configured."""
    config = current_app.config
    return LedgerWriter(
        session,
        get_keys().current(),
        config["PSAM_CHECKPOINT_EVERY"],
        config["PSAM_CHECKPOINT_INTERVAL"],
    )


def trail_of(principal: Principal) -> Trail:
    """What a service needs to name ``principal`` in the access log, in any session."""
    return Trail(principal, get_keys().current(), current_app.config["PSAM_CHECKPOINT_EVERY"])


def get_keys() -> KeyringSource:
    """The keyring source of the current app."""
    source = current_app.extensions["psam_keys"]
    if not isinstance(source, KeyringSource):
        raise RuntimeError("the app has no keyring source")
    return source

"""Typed tables and their constraints; no business logic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, Sha256Hex, UtcTimestamp, UuidPk


class InstrumentVersion(Base):
    """One published version of an instrument or consent form: immutable once stored."""

    __tablename__ = "instrument_versions"
    __table_args__ = (UniqueConstraint("instrument_id", "version"),)

    id: Mapped[UuidPk]
    instrument_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[Sha256Hex]
    definition: Mapped[dict[str, Any]]
    published_at: Mapped[UtcTimestamp]


class ProtocolVersion(Base):
    """One version of the study protocol (timepoints and the instruments each asks for)."""

    __tablename__ = "protocol_versions"

    id: Mapped[UuidPk]
    version: Mapped[str] = mapped_column(String(32), unique=True)
    sha256: Mapped[Sha256Hex]
    definition: Mapped[dict[str, Any]]
    published_at: Mapped[UtcTimestamp]


class StaffToken(Base):
    """A staff API token: only its SHA-256 is kept, never the token."""

    __tablename__ = "staff_tokens"

    id: Mapped[UuidPk]
    label: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]]
    token_sha256: Mapped[Sha256Hex] = mapped_column(unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[UtcTimestamp]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

"""Typed tables and their constraints; no business logic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from service.db import Base, Ciphertext, Sha256Hex, StudyId, UtcTimestamp, UuidPk


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


class Participant(Base):
    """A participant, known only by a random study ID; identifiers live in the vault."""

    __tablename__ = "participants"

    id: Mapped[UuidPk]
    study_id: Mapped[StudyId] = mapped_column(unique=True)
    enrolled_at: Mapped[UtcTimestamp]
    erased_at: Mapped[dt.datetime | None]


class DataKeyRecord(Base):
    """A participant's data key, wrapped by a KEK; deleting it erases their data."""

    __tablename__ = "data_keys"

    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[UtcTimestamp]
    rewrapped_at: Mapped[dt.datetime | None]


class IdentityValue(Base):
    """One direct identifier (name, email, phone, signature), encrypted; the only such table."""

    __tablename__ = "identity_values"

    id: Mapped[UuidPk]
    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[Ciphertext]
    recorded_at: Mapped[UtcTimestamp]


class KekPrimary(Base):
    """One row naming the primary KEK, so a rotation can wait out enrolments in flight.

    Creating a data key reads this row FOR SHARE; a rotation updates it before it re-wraps,
    so every data key created after the update is wrapped by the new KEK and every one
    created before it is found by the re-wrap.
    """

    __tablename__ = "kek_primary"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kek_id: Mapped[str | None] = mapped_column(String(64))


class ParticipantToken(Base):
    """A participant's API token, scoped to their study ID; only its SHA-256 is kept."""

    __tablename__ = "participant_tokens"

    id: Mapped[UuidPk]
    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), index=True)
    token_sha256: Mapped[Sha256Hex] = mapped_column(unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[UtcTimestamp]
    revoked_at: Mapped[dt.datetime | None]


class LedgerEntryMixin:
    """Columns shared by the append-only logs. ``event`` is the canonical JSON that is hashed;
    the other plain columns copy fields of it for filtering, and verification checks them."""

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    prev_hash: Mapped[Sha256Hex] = mapped_column(unique=True)
    hash: Mapped[Sha256Hex] = mapped_column(unique=True)
    event: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[UtcTimestamp] = mapped_column(index=True)

    @declared_attr
    def study_id(cls) -> Mapped[str | None]:
        return mapped_column(String(16), index=True)


class ConsentLogEntry(LedgerEntryMixin, Base):
    """The consent log: consents, re-consents and withdrawals. Append-only (triggers)."""

    __tablename__ = "consent_log"


class AccessLogEntry(LedgerEntryMixin, Base):
    """The access log: staff actions that read or change participant data. Append-only."""

    __tablename__ = "access_log"


class LedgerCheckpoint(Base):
    """A signed statement of a log's length and head hash. Append-only."""

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (UniqueConstraint("log", "length"),)

    id: Mapped[UuidPk]
    log: Mapped[str] = mapped_column(String(16))
    length: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[Sha256Hex]
    time: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(32))

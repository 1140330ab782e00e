"""Typed tables and their constraints; no business logic."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from service.db import (
    Base,
    Ciphertext,
    EncryptedBytes,
    Sha256Hex,
    StudyId,
    UtcTimestamp,
    UuidPk,
)


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
    # "Sign out" in the staff console: a console session begun before this time is over,
    # even if its cookie was copied (the cookie itself is held by no server).
    sessions_ended_at: Mapped[dt.datetime | None]


class Participant(Base):
    """A participant, known only by a random study ID; identifiers live in the vault."""

    __tablename__ = "participants"

    id: Mapped[UuidPk]
    study_id: Mapped[StudyId] = mapped_column(unique=True)
    site: Mapped[str | None] = mapped_column(String(64), index=True)
    enrolled_at: Mapped[UtcTimestamp]
    erased_at: Mapped[dt.datetime | None]
    # Set once the erased rows are gone from the database files too (see docs/erasure.md):
    # an erasure with ``erased_at`` and no ``purged_at`` is a purge still to run.
    purged_at: Mapped[dt.datetime | None]
    # On PostgreSQL, the id (modulo 2**32) of the erasing transaction: the purge compares it
    # with the snapshots still open, which keep deleted rows alive through a VACUUM FULL.
    erasure_xid: Mapped[int | None] = mapped_column(BigInteger)


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
    # Web sessions made from this token carry the epoch they began in; signing out (or a
    # revocation) moves it on, so a copied session cookie stops working everywhere.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set on the short-lived tokens a reminder email carries (docs/notifications.md); the
    # letter's token never expires.
    expires_at: Mapped[dt.datetime | None]


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


class AuditWitness(Base):
    """An auditor's Ed25519 key that may co-sign checkpoints once an admin approves it.

    Append-only (triggers): a key is never edited; approval is a row of its own.
    """

    __tablename__ = "audit_witnesses"

    id: Mapped[UuidPk]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(String(64), unique=True)  # raw key, hex
    registered_by: Mapped[uuid.UUID]  # the staff token's id
    registered_at: Mapped[UtcTimestamp]


class WitnessApproval(Base):
    """An admin's approval of a witness key. Append-only."""

    __tablename__ = "witness_approvals"

    witness_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("audit_witnesses.id"), primary_key=True
    )
    approved_by: Mapped[uuid.UUID]  # the staff token's id
    approved_at: Mapped[UtcTimestamp]


class CheckpointCosignature(Base):
    """A witness's Ed25519 signature over a checkpoint's note body. Append-only."""

    __tablename__ = "checkpoint_cosignatures"
    __table_args__ = (UniqueConstraint("checkpoint_id", "witness_id"),)

    id: Mapped[UuidPk]
    checkpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_checkpoints.id"))
    witness_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audit_witnesses.id"))
    signature: Mapped[str] = mapped_column(String(128))  # hex
    created_at: Mapped[UtcTimestamp]


class Response(Base):
    """A participant's answers to one instrument version at one timepoint.

    Answers and scores are ciphertext under the participant's data key; the plain columns
    say only which task this is and where it stands.
    """

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("study_id", "timepoint", "instrument_id"),)

    id: Mapped[UuidPk]
    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), index=True)
    timepoint: Mapped[str] = mapped_column(String(32))
    instrument_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    instrument_hash: Mapped[Sha256Hex]
    status: Mapped[str] = mapped_column(String(16))
    answers: Mapped[Ciphertext]
    scores: Mapped[bytes | None] = mapped_column(EncryptedBytes())
    started_at: Mapped[UtcTimestamp]
    updated_at: Mapped[UtcTimestamp]
    submitted_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # The consent form version the participant's consent stood on when they submitted.
    consent_version: Mapped[str | None] = mapped_column(String(32))
    # The BCP 47 tag of the texts the response was answered in (empty before revision 0011).
    language: Mapped[str | None] = mapped_column(String(35))


class Alert(Base):
    """A safety alert raised by answers (saved or submitted), for researchers to act on.

    One per participant, timepoint and severity while it is open; which rules it holds is
    ``reasons``, ciphertext under the participant's data key (``rule_id`` is a fixed word
    for rows written since revision 0008).
    """

    __tablename__ = "alerts"

    id: Mapped[UuidPk]
    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), index=True)
    response_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("responses.id"))
    rule_id: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[UtcTimestamp]
    status: Mapped[str] = mapped_column(String(16), index=True)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None]
    note: Mapped[bytes | None] = mapped_column(EncryptedBytes())
    reasons: Mapped[bytes | None] = mapped_column(EncryptedBytes())


class IdempotencyRecord(Base):
    """The first answer to a request sent with an Idempotency-Key, replayed to retries.

    The answer can hold scores, so it is ciphertext under the participant's data key, and it
    goes when their data is erased.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("study_id", "key"),)

    id: Mapped[UuidPk]
    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[Sha256Hex]
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[bytes | None] = mapped_column(EncryptedBytes())
    created_at: Mapped[UtcTimestamp]


class ErasureReceipt(Base):
    """The answer to a ``stop-and-erase`` sent with an Idempotency-Key, kept in the clear.

    The erasure deletes the participant's idempotency records and revokes their tokens, so a
    retry could not otherwise get its first answer back. A receipt says where the withdrawal
    sits in the consent log and nothing about the person's health.
    """

    __tablename__ = "erasure_receipts"

    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_sha256: Mapped[Sha256Hex]
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[UtcTimestamp]


class RateLimitWindow(Base):
    """Requests counted per client in the current window, shared by every worker and replica.

    The key is an HMAC (under a key derived for this purpose) of the client address and the
    limit's name: no address is stored, and none can be found by hashing every address.
    """

    __tablename__ = "rate_limit_windows"

    key: Mapped[Sha256Hex] = mapped_column(primary_key=True)
    window_start: Mapped[UtcTimestamp]
    count: Mapped[int] = mapped_column(Integer)


class ExportManifest(Base):
    """What an export was: who asked, with which filters, over which versions, and the hash
    of the exact bytes sent. Written when the stream starts, completed when it ends."""

    __tablename__ = "export_manifests"

    id: Mapped[UuidPk]
    actor: Mapped[dict[str, Any]]
    created_at: Mapped[UtcTimestamp] = mapped_column(index=True)
    completed_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any]]
    versions: Mapped[list[Any]]
    format: Mapped[str] = mapped_column(String(8))
    row_count: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # Rows left out because they could not be decrypted: how many, and up to a bound each
    # one's response id and why. Null until the export ends.
    skipped_count: Mapped[int | None] = mapped_column(Integer)
    skipped: Mapped[list[Any] | None]
    # Where the rows were read ("primary" or "replica"), and the time up to which every
    # committed change is in them (a standby's last replayed commit; docs/scaling.md).
    read_from: Mapped[str | None] = mapped_column(String(8))
    data_as_of: Mapped[dt.datetime | None]


class Notification(Base):
    """One message in the outbox, written in the transaction of the event that causes it.

    It names what to send (``kind``), about whom (``study_id``, ``timepoint``, ``alert_id``)
    and where delivery stands; never an address, a link or a message body: the worker
    renders those at send time. ``dedupe_key`` makes each message unique: one per alert and
    kind, one per (participant, timepoint, kind) for reminders.
    """

    __tablename__ = "notifications"

    id: Mapped[UuidPk]
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    study_id: Mapped[str | None] = mapped_column(String(16), index=True)
    timepoint: Mapped[str | None] = mapped_column(String(32))
    # No foreign key: an erasure deletes the alert, and the worker cancels a message whose
    # alert is gone.
    alert_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[UtcTimestamp]
    due_at: Mapped[UtcTimestamp] = mapped_column(index=True)
    # While a worker holds the message (status "sending"): past this, another may take it.
    lease_until: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    # A short reason written by the service (an error class, an SMTP code), never the text
    # a server sent back, which can quote an address.
    last_error: Mapped[str | None] = mapped_column(String(200))
    # The sign-in token minted for this message (reminders): its id, never the token.
    token_id: Mapped[uuid.UUID | None]
    # The interview a message is about (an invitation, a confirmation, a reminder). No
    # foreign key, as for alerts: the worker cancels a message whose interview has moved on.
    interview_id: Mapped[uuid.UUID | None]


class ReminderChoice(Base):
    """A participant's choice of reminders: by email (the default) or none."""

    __tablename__ = "reminder_choices"

    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), primary_key=True)
    by_email: Mapped[bool]
    chosen_at: Mapped[UtcTimestamp]


class LanguageChoice(Base):
    """The language a participant chose for the pages (a BCP 47 primary tag: ``cy``, ``en``)."""

    __tablename__ = "language_choices"

    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16))
    chosen_at: Mapped[UtcTimestamp]


class InterviewSlot(Base):
    """A time the study offers for an interview: when, how, and who interviews.

    The interviewer is a staff token's id, never a name. A slot is booked by at most one
    interview (``interviews.slot_id`` is unique).
    """

    __tablename__ = "interview_slots"

    id: Mapped[UuidPk]
    starts_at: Mapped[UtcTimestamp] = mapped_column(index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    # "phone", "video" or "in_person"
    mode: Mapped[str] = mapped_column(String(16))
    interviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_tokens.id"))
    created_at: Mapped[UtcTimestamp]
    cancelled_at: Mapped[dt.datetime | None]


class Interview(Base):
    """One invitation to an interview and where it stands.

    ``status`` is one of invited, accepted, scheduled, done, declined, cancelled;
    ``channel`` says how the invitation was made ("email" through the outbox, or "phone",
    recorded after the call).
    """

    __tablename__ = "interviews"

    id: Mapped[UuidPk]
    study_id: Mapped[StudyId] = mapped_column(ForeignKey("participants.study_id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    # The staff token that invited: its id, never a name.
    invited_by: Mapped[uuid.UUID | None]
    invited_at: Mapped[UtcTimestamp]
    updated_at: Mapped[UtcTimestamp]
    slot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("interview_slots.id"), unique=True)
    # Why it was cancelled, in a word the service chose ("withdrawal", "staff", ...).
    cancel_reason: Mapped[str | None] = mapped_column(String(32))


class InterviewFile(Base):
    """An interview's recording or transcript: what was stored, never the content.

    The content is in ``interview_chunks``, sealed chunk by chunk under the participant's
    data key (``service/domain/chunked.py``). Destroying the audio deletes its chunks and
    keeps this row with ``destroyed_at`` set, so the record of what existed stays.
    """

    __tablename__ = "interview_files"
    __table_args__ = (UniqueConstraint("interview_id", "kind"),)

    id: Mapped[UuidPk]
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interviews.id"))
    # "audio" or "transcript"
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(100))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[Sha256Hex]
    chunk_count: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[uuid.UUID | None]
    uploaded_at: Mapped[UtcTimestamp]
    verified_by: Mapped[uuid.UUID | None]
    verified_at: Mapped[dt.datetime | None]
    destroyed_at: Mapped[dt.datetime | None]


class InterviewChunk(Base):
    """One sealed chunk of an interview file, in order."""

    __tablename__ = "interview_chunks"

    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interview_files.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)

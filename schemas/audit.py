"""Bodies of the auditor API: log pages, verification results, checkpoints."""

from __future__ import annotations

import datetime as dt

from marshmallow import Schema, fields, validate

from schemas.fields import StudyId
from service.domain.ledger import LOGS


class LogQuerySchema(Schema):
    after_seq = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    study_id = StudyId()
    since = fields.AwareDateTime(default_timezone=dt.UTC)
    until = fields.AwareDateTime(default_timezone=dt.UTC)


class LogNameSchema(Schema):
    log = fields.String(load_default="consent", validate=validate.OneOf(LOGS))


class EntrySchema(Schema):
    seq = fields.Integer(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)
    event = fields.Dict(required=True)


class LogPageSchema(Schema):
    entries = fields.List(fields.Nested(EntrySchema), required=True)
    next_after_seq = fields.Integer(
        allow_none=True, metadata={"description": "Pass as after_seq for the next page"}
    )


class VerificationSchema(Schema):
    log = fields.String(required=True, validate=validate.OneOf(LOGS))
    ok = fields.Boolean(required=True)
    length = fields.Integer(required=True)
    head_hash = fields.String(required=True)
    first_bad_seq = fields.Integer(allow_none=True, required=True)
    checkpoints_checked = fields.Integer(required=True)
    unsigned_entries = fields.Integer(
        required=True, metadata={"description": "Entries after the last checkpoint that holds"}
    )
    problems = fields.List(fields.String(), required=True)


class CheckpointSchema(Schema):
    id = fields.UUID(
        required=True, metadata={"description": "Co-sign at /audit/checkpoints/{id}/cosign"}
    )
    log = fields.String(required=True, validate=validate.OneOf(LOGS))
    length = fields.Integer(required=True)
    head_hash = fields.String(required=True)
    time = fields.String(required=True)
    note = fields.String(
        required=True,
        metadata={
            "description": "The signed note (C2SP signed-note form, with any witnesses' "
            "co-signatures): keep it, and give it to psam-verify --trusted-checkpoints"
        },
    )


class CheckpointListSchema(Schema):
    public_key_id = fields.String(required=True)
    checkpoints = fields.List(fields.Nested(CheckpointSchema), required=True)


class WitnessRegistrationSchema(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The key's name in signature lines: not a person's name"},
    )
    public_key = fields.String(
        required=True,
        validate=validate.Length(max=1000),
        metadata={"description": "Ed25519 public key, PEM (SubjectPublicKeyInfo)"},
    )


class WitnessSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    public_key = fields.String(required=True)
    key_hash = fields.String(
        required=True, metadata={"description": "Hex of the 4-byte C2SP key hash"}
    )
    registered_at = fields.String(required=True)
    approved = fields.Boolean(required=True)


class WitnessListSchema(Schema):
    witnesses = fields.List(fields.Nested(WitnessSchema), required=True)


class CosignSchema(Schema):
    witness_id = fields.UUID(required=True)
    signature = fields.String(
        required=True,
        validate=validate.Length(max=200),
        metadata={"description": "base64 of the 64-byte Ed25519 signature over the note body"},
    )

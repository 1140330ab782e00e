"""Bodies of the researcher's participant views."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.consent import ConsentStateSchema, ReceiptSchema
from schemas.fields import StudyId, UtcDateTime
from schemas.responses import AlertSchema, TaskSchema
from service.domain.consent import CONSENT_STATES
from service.domain.notifications import KINDS, STATUSES
from service.domain.tasks import TASK_STATUSES

_STATES = CONSENT_STATES


class ParticipantQuerySchema(Schema):
    consent_state = fields.String(validate=validate.OneOf(_STATES))
    site = fields.String(validate=validate.Length(min=1, max=64))
    task_status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    after = StudyId(metadata={"description": "The next_after of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ParticipantSummarySchema(Schema):
    study_id = fields.String(required=True)
    site = fields.String(allow_none=True, required=True)
    enrolled_at = UtcDateTime(required=True)
    consent = fields.Nested(ConsentStateSchema, required=True)
    task_counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    open_alerts = fields.Integer(required=True)


class ParticipantPageSchema(Schema):
    participants = fields.List(fields.Nested(ParticipantSummarySchema), required=True)
    next_after = fields.String(allow_none=True, required=True)


class ReminderReachSchema(Schema):
    channel = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "email, or null when no reminder can reach the participant"},
    )
    reason = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Why none: no email address, opted out, consent not in force"},
    )


class ParticipantDetailSchema(ParticipantSummarySchema):
    tasks = fields.List(fields.Nested(TaskSchema), required=True)
    alerts = fields.List(fields.Nested(AlertSchema), required=True)
    events = fields.List(fields.Nested(ReceiptSchema), required=True)
    reminders = fields.Nested(ReminderReachSchema, required=True)


class MessageSchema(Schema):
    id = fields.UUID(required=True, metadata={"description": "Also the email's Message-ID"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    channel = fields.String(required=True)
    timepoint = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    attempts = fields.Integer(required=True)
    created_at = UtcDateTime(required=True)
    sent_at = UtcDateTime(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)


class MessageListSchema(Schema):
    study_id = fields.String(required=True)
    messages = fields.List(fields.Nested(MessageSchema), required=True)


class ContactDetailsSchema(Schema):
    study_id = fields.String(required=True)
    name = fields.String(allow_none=True, required=True)
    email = fields.String(allow_none=True, required=True)
    phone = fields.String(allow_none=True, required=True)


class NewTokenSchema(Schema):
    study_id = fields.String(required=True)
    token = fields.String(
        required=True, metadata={"description": "Shown once; the old one is revoked"}
    )
    link = fields.String(
        required=True,
        metadata={"description": "The participant's new link, with the token in its fragment"},
    )
    link_qr_svg = fields.String(
        required=True,
        metadata={
            "description": "The QR code of the link, a standalone SVG document for a letter; "
            "shown once, never again"
        },
    )

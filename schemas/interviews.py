"""Bodies of the interview views: invitations, slots, scheduling, the participant's answer."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.fields import UtcDateTime
from service.domain.interviews import CHANNELS, MAX_MINUTES, MIN_MINUTES, MODES, STATES


class InviteSchema(Schema):
    channel = fields.String(
        required=True,
        validate=validate.OneOf(CHANNELS),
        metadata={"description": "email (sent through the outbox) or phone (a call, recorded)"},
    )


class InvitationSchema(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATES))


class SlotRequestSchema(Schema):
    starts_at = UtcDateTime(required=True, metadata={"description": "In the future, with offset"})
    minutes = fields.Integer(
        required=True, validate=validate.Range(min=MIN_MINUTES, max=MAX_MINUTES)
    )
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    interviewer_id = fields.UUID(
        required=True, metadata={"description": "The interviewer's staff token id (never a name)"}
    )


class OfferedSlotSchema(Schema):
    id = fields.UUID(required=True)
    starts_at = UtcDateTime(required=True)
    minutes = fields.Integer(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(MODES))


class SlotSchema(OfferedSlotSchema):
    interviewer_id = fields.UUID(required=True)
    cancelled_at = UtcDateTime(required=True, allow_none=True)
    interview_id = fields.UUID(
        required=True, allow_none=True, metadata={"description": "The interview booked into it"}
    )


class SlotListSchema(Schema):
    slots = fields.List(fields.Nested(SlotSchema), required=True)


class InterviewSchema(Schema):
    id = fields.UUID(required=True)
    study_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATES))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    invited_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    cancel_reason = fields.String(required=True, allow_none=True)
    slot = fields.Nested(SlotSchema, required=True, allow_none=True)


class InterviewQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(STATES))


class InterviewListSchema(Schema):
    interviews = fields.List(fields.Nested(InterviewSchema), required=True)


class EligibleSchema(Schema):
    study_id = fields.String(required=True)
    has_email = fields.Boolean(required=True)
    open_interview = fields.UUID(required=True, allow_none=True)


class EligibleListSchema(Schema):
    participants = fields.List(fields.Nested(EligibleSchema), required=True)


class ScheduleSchema(Schema):
    slot_id = fields.UUID(required=True)


class AcceptSchema(Schema):
    slot_id = fields.UUID(
        metadata={"description": "A free slot; leave it out to be contacted to arrange a time"}
    )


class MyInterviewSchema(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATES))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    invited_at = UtcDateTime(required=True)
    slot = fields.Nested(OfferedSlotSchema, required=True, allow_none=True)


class MyInterviewsSchema(Schema):
    interviews = fields.List(fields.Nested(MyInterviewSchema), required=True)
    slots = fields.List(
        fields.Nested(OfferedSlotSchema),
        required=True,
        metadata={"description": "Free times to choose from, while an invitation is open"},
    )

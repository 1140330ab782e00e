"""Bodies for tasks, responses and alerts."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.consent import ConsentStateSchema
from schemas.fields import StrictBoolean, UtcDateTime
from service.domain.tasks import TASK_STATUSES

SEVERITIES = ("urgent", "routine")  # as instrument definitions allow (schemas.instrument)
ALERT_STATUSES = ("open", "acknowledged")

_ANSWERS = fields.Dict(
    keys=fields.String(validate=validate.Length(min=1, max=64)),
    values=fields.Raw(allow_none=True),
    metadata={"description": "Item id -> answer (a code, a list of codes, a number, text...)"},
)


class StartResponseSchema(Schema):
    instrument = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    timepoint = fields.String(required=True, validate=validate.Length(min=1, max=32))
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.Raw(),
        load_default=dict,
    )
    submit = StrictBoolean(load_default=False)
    lang = fields.String(
        validate=validate.Length(min=1, max=35),
        metadata={"description": "The language the questions are shown in (else Accept-Language)"},
    )


class SaveAnswersSchema(Schema):
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.Raw(allow_none=True),
        required=True,
        metadata={"description": "Merged into the saved answers; null clears an answer"},
    )


class ScoreSchema(Schema):
    id = fields.String(required=True)
    label = fields.String(required=True)
    value = fields.Raw(required=True, allow_none=True)
    band = fields.String(allow_none=True, required=True)


class SignpostingSchema(Schema):
    id = fields.String(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    signposting = fields.String(required=True)


class ResponseSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("in-progress", "submitted")))
    instrument = fields.String(required=True)
    version = fields.String(required=True)
    instrument_hash = fields.String(required=True)
    timepoint = fields.String(required=True)
    started_at = UtcDateTime(required=True)
    submitted_at = UtcDateTime(allow_none=True, required=True)
    answers = _ANSWERS
    scores = fields.List(fields.Nested(ScoreSchema), required=True)
    alerts = fields.List(fields.Nested(SignpostingSchema), required=True)
    language = fields.String(
        allow_none=True, metadata={"description": "The language it is answered in"}
    )


class TaskSchema(Schema):
    timepoint = fields.String(required=True)
    instrument = fields.String(required=True)
    version = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(TASK_STATUSES))
    opens = fields.Date(required=True)
    closes = fields.Date(required=True)
    response_id = fields.String(allow_none=True, required=True)


class MeSchema(Schema):
    study_id = fields.String(required=True)
    consent = fields.Nested(ConsentStateSchema, required=True)
    tasks = fields.List(fields.Nested(TaskSchema), required=True)


class AlertSchema(Schema):
    id = fields.UUID(required=True)
    study_id = fields.String(required=True)
    response_id = fields.UUID(required=True)
    rule = fields.String(
        required=True,
        attribute="rule_id",
        metadata={"description": "The first of its reasons (kept for older clients)"},
    )
    reasons = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Every alert rule it holds: one alert per timepoint and severity"},
    )
    timepoint = fields.String(allow_none=True)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    raised_at = UtcDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ALERT_STATUSES))
    acknowledged_at = UtcDateTime(allow_none=True, required=True)


class AlertListSchema(Schema):
    alerts = fields.List(fields.Nested(AlertSchema), required=True)


class AlertQuerySchema(Schema):
    status = fields.String(
        load_default="open", validate=validate.OneOf(("open", "acknowledged", "all"))
    )


class AcknowledgeSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))

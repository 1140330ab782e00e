"""Bodies for enrolment, consent, withdrawal and the participant's own view."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.fields import StrictBoolean, UtcDateTime
from service.domain.consent import CONSENT_STATES, MAX_NAME, WITHDRAWAL_SCOPES

_CONSENT_STATES = CONSENT_STATES


class ContactSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    email = fields.Email(validate=validate.Length(max=320))
    phone = fields.String(
        validate=[
            validate.Length(min=3, max=40),
            validate.Regexp(r"^[0-9+() .-]+$", error="digits, spaces and + ( ) . - only"),
        ]
    )


class EnrolmentRequestSchema(Schema):
    contact = fields.Nested(
        ContactSchema, metadata={"description": "Kept only, encrypted, in the identity vault"}
    )
    site = fields.String(validate=validate.Length(min=1, max=64))


class SelfEnrolmentSchema(EnrolmentRequestSchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The study's enrolment code, from the recruitment material"},
    )


class EnrolmentSchema(Schema):
    study_id = fields.String(required=True)
    token = fields.String(required=True, metadata={"description": "Shown once, never again"})
    link = fields.String(
        required=True,
        metadata={
            "description": "The address the participant opens (from PSAM_PUBLIC_URL), with "
            "the token in its fragment; shown once, never again"
        },
    )
    link_qr_svg = fields.String(
        required=True,
        metadata={
            "description": "The QR code of the link, a standalone SVG document for a letter; "
            "shown once, never again"
        },
    )
    enrolled_at = UtcDateTime(required=True)


class SignConsentSchema(Schema):
    form_version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    form_hash = fields.String(required=True, validate=validate.Length(min=1, max=64))
    clauses = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=StrictBoolean(),
        required=True,
    )
    typed_name = fields.String(required=True, validate=validate.Length(max=MAX_NAME + 50))
    lang = fields.String(
        validate=validate.Length(min=1, max=35),
        metadata={"description": "The language the form was shown in (else Accept-Language)"},
    )
    text_hash = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The form's text_sha256 in that language, to check it"},
    )


class WithdrawalSchema(Schema):
    scope = fields.String(required=True, validate=validate.OneOf(WITHDRAWAL_SCOPES))


class ReceiptSchema(Schema):
    seq = fields.Integer(required=True)
    hash = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(("consent", "withdrawal")))
    recorded_at = fields.String(required=True)
    form_version = fields.String(allow_none=True)
    form_hash = fields.String(allow_none=True)
    clauses = fields.Dict(keys=fields.String(), values=fields.Boolean(), allow_none=True)
    scope = fields.String(allow_none=True, validate=validate.OneOf(WITHDRAWAL_SCOPES))
    language = fields.String(
        allow_none=True, metadata={"description": "The language the signed form was shown in"}
    )
    text_sha256 = fields.String(
        allow_none=True,
        metadata={"description": "SHA-256 of the canonical JSON of the form in that language"},
    )


class ReceiptListSchema(Schema):
    receipts = fields.List(fields.Nested(ReceiptSchema), required=True)


class ConsentStateSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(_CONSENT_STATES))
    form_version = fields.String(allow_none=True)
    clauses = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)
    withdrawal = fields.String(allow_none=True, validate=validate.OneOf(WITHDRAWAL_SCOPES))
    offered_version = fields.String(
        allow_none=True,
        metadata={
            "description": "A newer consent form this participant may sign; meanwhile they "
            "continue under the version they signed"
        },
    )

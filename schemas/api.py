"""Request and response bodies of the HTTP API, and the problem+json error body."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.fields import UtcDateTime
from service.domain.tokens import STAFF_ROLES


class ProblemSchema(Schema):
    """RFC 9457 problem details, with ``errors`` keyed by field for validation failures."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ProblemTypeSchema(Schema):
    type = fields.String(required=True, attribute="uri")
    code = fields.String(required=True)
    status = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)


class ProblemCatalogueSchema(Schema):
    problems = fields.List(fields.Nested(ProblemTypeSchema), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadinessSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class VersionSummarySchema(Schema):
    version = fields.String(required=True)
    sha256 = fields.String(required=True)
    published_at = UtcDateTime(required=True)


class InstrumentSummarySchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True, metadata={"description": "Title of the newest version"})
    kind = fields.String(required=True, validate=validate.OneOf(("questionnaire", "consent")))
    versions = fields.List(fields.Nested(VersionSummarySchema), required=True)


class CatalogueSchema(Schema):
    instruments = fields.List(fields.Nested(InstrumentSummarySchema), required=True)


class InstrumentVersionSchema(Schema):
    id = fields.String(required=True, attribute="instrument_id")
    version = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("questionnaire", "consent")))
    title = fields.String(required=True)
    sha256 = fields.String(
        required=True,
        metadata={"description": "SHA-256 of the RFC 8785 canonical JSON of `definition`"},
    )
    published_at = UtcDateTime(required=True)
    definition = fields.Dict(
        required=True, metadata={"description": "The definition as published: every language"}
    )
    languages = fields.List(
        fields.String(), required=True, metadata={"description": "Its languages, default first"}
    )
    language = fields.String(
        metadata={"description": "With lang or Accept-Language: the language of `localised`"}
    )
    localised = fields.Dict(
        metadata={"description": "With lang or Accept-Language: the definition in one language"}
    )
    text_sha256 = fields.String(
        metadata={"description": "SHA-256 of the RFC 8785 canonical JSON of `localised`"}
    )


class ConsentClauseSchema(Schema):
    id = fields.String(required=True)
    text = fields.String(required=True)
    required = fields.Boolean(required=True)
    enable_when = fields.Dict(
        metadata={"description": "Shown only when this holds of the other clauses' answers"}
    )


class ConsentFormSchema(Schema):
    id = fields.String(required=True)
    version = fields.String(required=True)
    sha256 = fields.String(required=True, metadata={"description": "The version's hash"})
    language = fields.String(required=True, metadata={"description": "The language shown"})
    languages = fields.List(fields.String(), required=True)
    text_sha256 = fields.String(
        required=True,
        metadata={
            "description": "SHA-256 of the canonical JSON of the form in this language: the "
            "text shown, which the receipt records"
        },
    )
    title = fields.String(required=True)
    information_sheet_version = fields.String(required=True)
    preamble = fields.String(allow_none=True)
    clauses = fields.List(fields.Nested(ConsentClauseSchema), required=True)
    changes = fields.List(fields.String(), metadata={"description": "What is new in this version"})
    reconsent = fields.String(
        allow_none=True,
        metadata={
            "description": "'required': those who signed an earlier version sign this one "
            "before giving more data; 'optional': they may continue and are offered it"
        },
    )


class TokenSchema(Schema):
    id = fields.UUID(required=True)
    label = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    hint = fields.String(required=True, metadata={"description": "Prefix of the token"})
    created_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)


class TokenCreatedSchema(TokenSchema):
    token = fields.String(required=True, metadata={"description": "Shown once, never again"})


class TokenListSchema(Schema):
    tokens = fields.List(fields.Nested(TokenSchema), required=True)


class TokenCreateSchema(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(
        fields.String(validate=validate.OneOf(STAFF_ROLES)),
        required=True,
        validate=validate.Length(min=1, max=len(STAFF_ROLES)),
    )
    expires_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=3650))

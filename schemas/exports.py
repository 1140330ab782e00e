"""Parameters and bodies of the analyst exports."""

from __future__ import annotations

import datetime as dt

from marshmallow import Schema, fields, validate

from schemas.fields import UtcDateTime
from service.domain.export import PSEUDONYMS, SUBMITTED


class ExportQuerySchema(Schema):
    instrument = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)),
        load_default=list,
        metadata={"description": "One or several (repeat the parameter); default: all"},
    )
    timepoint = fields.String(validate=validate.Length(min=1, max=32))
    submitted_since = fields.AwareDateTime(default_timezone=dt.UTC)
    submitted_until = fields.AwareDateTime(default_timezone=dt.UTC)
    consent_clause = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Only participants whose consent in force includes it"},
    )
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "ndjson")))
    labels = fields.Boolean(
        load_default=False, metadata={"description": "Option labels, not codes"}
    )
    lang = fields.String(
        validate=validate.Length(min=1, max=35),
        metadata={
            "description": "With labels=true: the labels' language (BCP 47), where a version "
            "has it; codes are the same in every language"
        },
    )
    include_free_text = fields.Boolean(load_default=False)
    pseudonyms = fields.String(
        load_default="study-id",
        validate=validate.OneOf(PSEUDONYMS),
        metadata={
            "description": "per-export: a pseudonym per participant and per response for "
            "this export only, rows sorted by the response pseudonym"
        },
    )
    submitted = fields.String(
        validate=validate.OneOf(SUBMITTED),
        metadata={
            "description": "time (submitted_at), day (submitted_on, UTC) or none (no column); "
            "default time, or day with per-export pseudonyms, which refuse time"
        },
    )


class CodebookQuerySchema(Schema):
    instrument = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.List(fields.String(validate=validate.Length(min=1, max=32)), load_default=list)
    include_free_text = fields.Boolean(load_default=False)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))
    pseudonyms = fields.String(load_default="study-id", validate=validate.OneOf(PSEUDONYMS))
    submitted = fields.String(validate=validate.OneOf(SUBMITTED))


class VersionHashSchema(Schema):
    version = fields.String(required=True)
    sha256 = fields.String(required=True)


class SkippedRowSchema(Schema):
    response_id = fields.String(metadata={"description": "A response export's row"})
    interview_id = fields.String(metadata={"description": "A quotes export's transcript"})
    reason = fields.String(required=True)


class ManifestSchema(Schema):
    id = fields.UUID(required=True)
    actor = fields.Dict(required=True)
    created_at = UtcDateTime(required=True)
    completed_at = UtcDateTime(allow_none=True, required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(("streaming", "complete", "aborted"))
    )
    filters = fields.Dict(required=True)
    versions = fields.List(fields.Nested(VersionHashSchema), required=True)
    format = fields.String(required=True, validate=validate.OneOf(("csv", "ndjson", "fhir")))
    row_count = fields.Integer(allow_none=True, required=True)
    sha256 = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "SHA-256 of the exact bytes sent"},
    )
    skipped_count = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Rows left out because they could not be decrypted"},
    )
    skipped = fields.List(
        fields.Nested(SkippedRowSchema),
        allow_none=True,
        required=True,
        metadata={"description": "The skipped rows by response id (the first 1,000)"},
    )
    read_from = fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(("primary", "replica")),
        metadata={"description": "The database the rows were read from"},
    )
    data_as_of = UtcDateTime(
        allow_none=True,
        required=True,
        metadata={
            "description": "Every change committed up to this time is in the export (a "
            "replica's last replayed commit; null if the replica has replayed none yet)"
        },
    )


class ManifestListSchema(Schema):
    exports = fields.List(fields.Nested(ManifestSchema), required=True)

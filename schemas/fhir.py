"""Query parameters of the FHIR face (/fhir/r4)."""

from __future__ import annotations

import datetime as dt

from marshmallow import Schema, fields, validate

from service.domain.export import PSEUDONYMS, SUBMITTED

MAX_PAGE = 1000


class QuestionnaireSearchSchema(Schema):
    url = fields.String(
        validate=validate.Length(min=1, max=500),
        metadata={"description": "A canonical URL, optionally with '|version'"},
    )
    version = fields.String(validate=validate.Length(min=1, max=32))


class ConsentSearchSchema(Schema):
    count = fields.Integer(
        data_key="_count",
        load_default=100,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "Consents per page"},
    )
    after_seq = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=2**63 - 1),
        metadata={"description": "The page after this consent-log seq (the 'next' link)"},
    )


class ResponseExportQuerySchema(Schema):
    """The analyst export's filters and pseudonym rules (schemas.exports), for FHIR NDJSON."""

    instrument = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)),
        load_default=list,
        metadata={"description": "One or several (repeat the parameter); default: all"},
    )
    timepoint = fields.String(validate=validate.Length(min=1, max=32))
    submitted_since = fields.AwareDateTime(default_timezone=dt.UTC)
    submitted_until = fields.AwareDateTime(default_timezone=dt.UTC)
    consent_clause = fields.String(validate=validate.Length(min=1, max=64))
    include_free_text = fields.Boolean(load_default=False)
    pseudonyms = fields.String(load_default="study-id", validate=validate.OneOf(PSEUDONYMS))
    submitted = fields.String(
        validate=validate.OneOf(SUBMITTED),
        metadata={"description": "authored as the time, the day (UTC) or not at all"},
    )

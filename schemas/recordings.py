"""Bodies of the interview recording and transcript routes."""

from __future__ import annotations

from marshmallow import Schema, fields

from schemas.fields import UtcDateTime


class InterviewFileSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "audio or transcript"})
    media_type = fields.String(required=True)
    bytes = fields.Integer(required=True, metadata={"description": "Size of the plaintext"})
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 of the plaintext"})
    uploaded_at = UtcDateTime(required=True)
    verified_at = UtcDateTime(allow_none=True, metadata={"description": "Transcript checked"})
    destroyed_at = UtcDateTime(
        allow_none=True, metadata={"description": "Recording destroyed on schedule"}
    )

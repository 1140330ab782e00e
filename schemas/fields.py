"""Field types shared by the API schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields

from service.domain.i18n import is_language_tag
from service.domain.pseudonyms import StudyIdError, parse_study_id


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC with a ``Z``, as everything on the wire is."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"{attr} must be a datetime")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StrictBoolean(fields.Boolean):
    """Only JSON ``true`` or ``false``; marshmallow's Boolean would take "yes" or 1."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictNumber(fields.Float):
    """Only a JSON number; marshmallow's Float would take the string "1"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        result: float = super()._deserialize(value, attr, data, **kwargs)
        return result


class StudyId(fields.String):
    """A study ID as typed by a person: normalised, and its check character verified."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_study_id(text)
        except StudyIdError as exc:
            raise ValidationError(str(exc)) from None


class LocalText(fields.Field):
    """Text a participant reads: a non-empty string (the version's one language), or a map
    from a BCP 47 tag to a non-empty string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            if not value:
                raise ValidationError("must not be empty")
            return value
        if not isinstance(value, dict) or not value:
            raise ValidationError("must be a string, or a map from a language tag to a string")
        for tag, text in value.items():
            if not is_language_tag(tag):
                raise ValidationError(f"{tag!r} is not a language tag (BCP 47, e.g. cy-GB)")
            if not isinstance(text, str) or not text:
                raise ValidationError(f"the {tag} text must be a non-empty string")
        return value

"""Field types shared by the API schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields

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

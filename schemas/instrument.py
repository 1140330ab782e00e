"""The shape that instrument, consent form and protocol definition files must have."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import LocalText, StrictBoolean, StrictNumber
from service.domain.consent import RECONSENT_POLICIES
from service.domain.i18n import TRANSLATION_SOURCES, is_language_tag
from service.domain.instruments import (
    COMPARISONS,
    CONDITION_OPS,
    ITEM_TYPES,
    MISSING_RULES,
    SCORE_METHODS,
)

_ID = validate.Regexp(r"^[a-z][a-z0-9-]*$", error="must be lowercase letters, digits and '-'")
_ITEM_ID = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="must be lowercase letters, digits, '_'")
_VERSION = validate.Regexp(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$", error="must be X.Y.Z")
_TEXT = validate.Length(min=1)


def _LANGUAGE(tag: str) -> None:
    if not is_language_tag(tag):
        raise ValidationError("must be a BCP 47 language tag, e.g. en-GB or cy-GB")


class TranslationSchema(Schema):
    """Where one language's text comes from: the original, a cited published translation,
    or the study's own translation with who reviewed it, when, and where its approval stands."""

    source = fields.String(required=True, validate=validate.OneOf(TRANSLATION_SOURCES))
    citation = fields.String(validate=_TEXT)
    reviewed_by = fields.String(validate=_TEXT)
    reviewed_on = fields.Date()
    status = fields.String(validate=_TEXT)

    @validates_schema
    def says_what_its_source_needs(self, data: dict[str, Any], **_: Any) -> None:
        needs = {
            "published": ("citation",),
            "study translation": ("reviewed_by", "reviewed_on", "status"),
        }.get(data.get("source", ""), ())
        for name in needs:
            if name not in data:
                raise ValidationError(f"a {data['source']} names its {name}", name)


class ChoiceSchema(Schema):
    code = fields.Integer(required=True, strict=True)
    label = LocalText(required=True)


class ConditionSchema(Schema):
    """``{"item", "op", "value"}``, or ``{"any": [...]}``, or ``{"all": [...]}``."""

    item = fields.String()
    score = fields.String(
        metadata={"description": "In an alert's condition only: a score of the instrument"}
    )
    op = fields.String(validate=validate.OneOf(CONDITION_OPS))
    value = fields.Raw(allow_none=False)
    any = fields.List(fields.Nested(lambda: ConditionSchema()), validate=validate.Length(min=1))
    all = fields.List(fields.Nested(lambda: ConditionSchema()), validate=validate.Length(min=1))

    @validates_schema
    def one_shape(self, data: dict[str, Any], **_: Any) -> None:
        groups = [k for k in ("any", "all") if k in data]
        if groups:
            if len(data) != 1:
                raise ValidationError("'any' or 'all' stands alone in its condition")
        elif ("item" in data) == ("score" in data) or "op" not in data:
            raise ValidationError(
                "a condition needs 'op' and one of 'item' or 'score', or 'any' or 'all'"
            )


class ComparisonSchema(Schema):
    op = fields.String(required=True, validate=validate.OneOf(COMPARISONS))
    value = fields.Raw(required=True, allow_none=False)


class ItemSchema(Schema):
    id = fields.String(required=True, validate=_ITEM_ID)
    text = LocalText(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ITEM_TYPES))
    required = StrictBoolean(required=True)
    choices = fields.String()
    min = StrictNumber()
    max = StrictNumber()
    max_length = fields.Integer(strict=True, validate=validate.Range(min=1, max=100_000))
    identifying = StrictBoolean()
    contact = StrictBoolean(
        metadata={"description": "A consent clause that 'no-further-contact' withdrawal turns off"}
    )
    enable_when = fields.Nested(ConditionSchema)
    help = LocalText()


class BandSchema(Schema):
    min = StrictNumber(required=True)
    max = StrictNumber(required=True)
    label = LocalText(required=True)


class CriterionSchema(Schema):
    items = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    when = fields.Nested(ComparisonSchema, required=True)
    at_least = fields.Integer(required=True, strict=True)


class MissingRuleSchema(Schema):
    """What a score does when items it needs were skipped, and the source of that rule."""

    rule = fields.String(required=True, validate=validate.OneOf(MISSING_RULES))
    max_missing = fields.Integer(strict=True, validate=validate.Range(min=1))
    source = fields.String(required=True, validate=_TEXT)

    @validates_schema
    def limit_only_when_prorating(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("rule") == "prorate") != ("max_missing" in data):
            raise ValidationError(
                "a prorating rule, and only a prorating rule, says how many items may be missing",
                "max_missing",
            )


class ScoreSchema(Schema):
    id = fields.String(required=True, validate=_ITEM_ID)
    label = LocalText(required=True)
    method = fields.String(required=True, validate=validate.OneOf(SCORE_METHODS))
    items = fields.List(fields.String())
    reverse = fields.List(fields.String())
    count_when = fields.Nested(ComparisonSchema)
    criteria = fields.List(fields.Nested(CriterionSchema))
    bands = fields.List(fields.Nested(BandSchema))
    participant_visible = StrictBoolean(required=True)
    missing = fields.Nested(MissingRuleSchema)
    source = fields.String(
        validate=_TEXT, metadata={"description": "Where the score's rule and cut-offs come from"}
    )
    note = fields.String(validate=_TEXT, metadata={"description": "A caveat for the codebook"})


class AlertSchema(Schema):
    id = fields.String(required=True, validate=_ITEM_ID)
    when = fields.Nested(ConditionSchema, required=True)
    severity = fields.String(required=True, validate=validate.OneOf(("urgent", "routine")))
    signposting = LocalText(required=True)


class InstrumentDefinitionSchema(Schema):
    """An instrument (``kind: questionnaire``) or consent form (``kind: consent``) file."""

    id = fields.String(required=True, validate=_ID)
    version = fields.String(required=True, validate=_VERSION)
    kind = fields.String(required=True, validate=validate.OneOf(("questionnaire", "consent")))
    title = LocalText(required=True)
    language = fields.String(
        required=True, validate=_LANGUAGE, metadata={"description": "The default language"}
    )
    languages = fields.List(
        fields.String(validate=_LANGUAGE),
        validate=validate.Length(min=1),
        metadata={"description": "Every language the version's texts are in, default first"},
    )
    translations = fields.Dict(
        keys=fields.String(validate=_LANGUAGE),
        values=fields.Nested(TranslationSchema),
        metadata={"description": "For each language, where its text comes from"},
    )
    source = fields.String(required=True, validate=_TEXT)
    preamble = LocalText()
    information_sheet_version = fields.String(validate=_TEXT)
    choice_sets = fields.Dict(
        keys=fields.String(validate=_ITEM_ID),
        values=fields.List(fields.Nested(ChoiceSchema), validate=validate.Length(min=1)),
    )
    items = fields.List(fields.Nested(ItemSchema), required=True, validate=validate.Length(min=1))
    scores = fields.List(fields.Nested(ScoreSchema), load_default=list)
    alerts = fields.List(fields.Nested(AlertSchema), load_default=list)
    changes = fields.List(
        LocalText(),
        validate=validate.Length(min=1),
        metadata={"description": "A consent form's 'what is new in this version'"},
    )
    reconsent = fields.String(
        validate=validate.OneOf(RECONSENT_POLICIES),
        metadata={
            "description": "A consent form's rule for those who signed an earlier version: "
            "'required' (re-consent before giving more data) or 'optional' (may continue)"
        },
    )

    @validates_schema
    def sheet_only_on_consent(self, data: dict[str, Any], **_: Any) -> None:
        consent = data.get("kind") == "consent"
        if consent != ("information_sheet_version" in data):
            raise ValidationError(
                "a consent form, and only a consent form, names its information sheet version",
                "information_sheet_version",
            )
        for name in ("changes", "reconsent"):
            if name in data and not consent:
                raise ValidationError(f"only a consent form has '{name}'", name)


class ProtocolInstrumentSchema(Schema):
    id = fields.String(required=True, validate=_ID)
    version = fields.String(required=True, validate=_VERSION)


class TimepointSchema(Schema):
    id = fields.String(required=True, validate=_ID)
    label = fields.String(required=True, validate=_TEXT)
    day = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    window_before = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    window_after = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    instruments = fields.List(
        fields.Nested(ProtocolInstrumentSchema), required=True, validate=validate.Length(min=1)
    )


class ProtocolSchema(Schema):
    """``instruments/protocol.json``: the timepoints and what each one asks for."""

    version = fields.String(required=True, validate=_VERSION)
    title = fields.String(required=True, validate=_TEXT)
    effective_from = fields.Date(
        metadata={
            "description": "The first day (UTC) on which new tasks follow this version; "
            "absent: from its publication"
        }
    )
    timepoints = fields.List(
        fields.Nested(TimepointSchema), required=True, validate=validate.Length(min=1)
    )

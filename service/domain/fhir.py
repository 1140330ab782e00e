"""Instruments as FHIR R4 Questionnaires: a pure projection of a parsed definition.

Everything is mapped by item type, never by instrument, so a new version or a new
instrument maps without a change here. What has a place in FHIR R4 goes there (linkId, type,
required, answerOption codings with the ``ordinalValue`` extension, ``enableWhen``, min and
max values, the help text as a ``help`` display item); what has none (scores, alerts, which
items are identifying, the kind of definition, a consent form's changes and re-consent rule,
choice sets no item uses) goes into this service's own extensions,
named under ``<base>/StructureDefinition/`` and listed in docs/fhir.md. The reverse mapping
is ``service.domain.fhir_import``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.i18n import render
from service.domain.instruments import Condition, Instrument, Item, compare

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
PREAMBLE_LINK_ID = "preamble-text"  # '-' never appears in an item id, so it cannot clash
HELP_SUFFIX = "-help"

# Our item type -> the FHIR item type. multi_choice is a repeating choice.
ITEM_TYPES: Mapping[str, str] = {
    "choice": "choice",
    "multi_choice": "choice",
    "integer": "integer",
    "decimal": "decimal",
    "text": "text",
    "date": "date",
    "boolean": "boolean",
}
# The value[x] an answer (or an enableWhen answer) of each item type takes.
ANSWER_KEYS: Mapping[str, str] = {
    "choice": "valueCoding",
    "multi_choice": "valueCoding",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "text": "valueString",
    "date": "valueDate",
    "boolean": "valueBoolean",
}
# Our comparison -> FHIR's enableWhen operator. '!=' is absent on purpose: in FHIR it holds
# for an unanswered item, here it does not, so it is written as 'exists' AND '!='.
OPERATORS: Mapping[str, str] = {"==": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


@dataclass(frozen=True)
class FhirBase:
    """Where this service's FHIR face lives: canonical URLs and extensions hang off it."""

    base: str  # e.g. https://study.example.org/fhir/r4, no trailing slash

    def questionnaire_url(self, instrument_id: str) -> str:
        return f"{self.base}/Questionnaire/{instrument_id}"

    def choice_system(self, instrument_id: str, choice_set: str) -> str:
        """The code system of one choice set: two sets of an instrument reuse codes (PHQ-9's
        0..3 mean 'not at all' in one and 'not difficult at all' in the other), and a code
        system's codes must each mean one thing."""
        return f"{self.questionnaire_url(instrument_id)}/choices/{choice_set}"

    def score_system(self, instrument_id: str) -> str:
        return f"{self.questionnaire_url(instrument_id)}/scores"

    def extension(self, name: str) -> str:
        return f"{self.base}/StructureDefinition/{name}"

    @property
    def study_id_system(self) -> str:
        return f"{self.base}/NamingSystem/study-id"

    @property
    def sha256_system(self) -> str:
        """Identifies a definition by the SHA-256 of its canonical JSON."""
        return f"{self.base}/NamingSystem/definition-sha256"

    def pseudonym_system(self, export_id: str) -> str:
        """The subjects of one pseudonymised export: valid in that export only."""
        return f"{self.base}/NamingSystem/export-{export_id}"


# Our extensions, by name (docs/fhir.md says what each holds).
EXT_KIND = "psam-definition-kind"
EXT_SHA256 = "psam-definition-sha256"
EXT_INFORMATION_SHEET = "psam-information-sheet-version"
EXT_SCORE = "psam-score"
EXT_ALERT = "psam-alert"
EXT_IDENTIFYING = "psam-identifying"
EXT_CONTACT = "psam-contact-clause"
EXT_ENABLE_WHEN = "psam-enable-when"
EXT_TIMEPOINT = "psam-timepoint"
EXT_WITHDRAWAL = "psam-withdrawal-scope"
EXT_CONSENT_FORM = "psam-consent-form"
EXT_CONSENT_VERSION = "psam-consent-version"
EXT_CHANGE = "psam-change"
EXT_RECONSENT = "psam-reconsent"
EXT_CHOICE_SET = "psam-choice-set"


def as_json_text(value: Any) -> str:
    """A definition fragment as the text of an extension: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def resource_name(instrument_id: str) -> str:
    """A Questionnaire.name (a computer-friendly name): 'pcl-5' -> 'Pcl5'."""
    return "".join(part.capitalize() for part in instrument_id.split("-"))


def questionnaire(instrument: Instrument, at: FhirBase, published_at: str) -> dict[str, Any]:
    """One published instrument version (or consent form) as a Questionnaire, its texts in
    the version's default language (the others are not carried: see docs/languages.md)."""
    definition = render(instrument.definition, instrument.languages[0])
    url = at.questionnaire_url(instrument.id)
    sets = _choice_set_names(definition)
    items: list[dict[str, Any]] = []
    if definition.get("preamble"):
        items.append(
            {"linkId": PREAMBLE_LINK_ID, "type": "display", "text": definition["preamble"]}
        )
    raw_items = {raw["id"]: raw for raw in definition["items"]}
    for item in instrument.items:
        items.append(_item(instrument, item, raw_items[item.id], sets.get(item.id), at))
    extensions = [
        {"url": at.extension(EXT_KIND), "valueCode": instrument.kind},
        {"url": at.extension(EXT_SHA256), "valueString": instrument.sha256},
    ]
    if instrument.information_sheet_version is not None:
        extensions.append(
            {
                "url": at.extension(EXT_INFORMATION_SHEET),
                "valueString": instrument.information_sheet_version,
            }
        )
    for change in definition.get("changes", []):
        extensions.append({"url": at.extension(EXT_CHANGE), "valueString": change})
    if "reconsent" in definition:
        extensions.append(
            {"url": at.extension(EXT_RECONSENT), "valueCode": definition["reconsent"]}
        )
    used = set(sets.values())
    for name, choices in definition.get("choice_sets", {}).items():
        if name not in used:  # no item's answerOptions carry it
            extensions.append(
                {
                    "url": at.extension(EXT_CHOICE_SET),
                    "valueString": as_json_text({"name": name, "choices": choices}),
                }
            )
    for score in definition.get("scores", []):
        extensions.append({"url": at.extension(EXT_SCORE), "valueString": as_json_text(score)})
    for alert in definition.get("alerts", []):
        extensions.append({"url": at.extension(EXT_ALERT), "valueString": as_json_text(alert)})
    return {
        "resourceType": "Questionnaire",
        "id": instrument.id,
        # Each published version is immutable, so its version is also the resource's
        # versionId: a vread by it gives that version, and a Bundle may hold several.
        "meta": {"versionId": instrument.version},
        "extension": extensions,
        "url": url,
        "version": instrument.version,
        "name": resource_name(instrument.id),
        "title": instrument.title,
        "status": "active",
        "subjectType": ["Patient"],
        "date": published_at,
        "language": definition["language"],
        "copyright": definition["source"],
        "item": items,
    }


def _choice_set_names(definition: Mapping[str, Any]) -> dict[str, str]:
    return {raw["id"]: raw["choices"] for raw in definition["items"] if "choices" in raw}


def choice_systems(instrument: Instrument, at: FhirBase) -> dict[str, str]:
    """Each choice item's code system (its choice set's), by item id."""
    return {
        item_id: at.choice_system(instrument.id, name)
        for item_id, name in _choice_set_names(instrument.definition).items()
    }


def _item(
    instrument: Instrument,
    item: Item,
    raw: Mapping[str, Any],
    choice_set: str | None,
    at: FhirBase,
) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": item.id, "text": item.text, "type": ITEM_TYPES[item.type]}
    extensions: list[dict[str, Any]] = []
    if item.identifying:
        extensions.append({"url": at.extension(EXT_IDENTIFYING), "valueBoolean": True})
    if item.contact:
        extensions.append({"url": at.extension(EXT_CONTACT), "valueBoolean": True})
    value_key = "valueDecimal" if item.type == "decimal" else "valueInteger"
    for url, bound in ((MIN_VALUE, item.min), (MAX_VALUE, item.max)):
        if bound is not None:
            extensions.append({"url": url, value_key: bound})
    if item.enable_when is not None:
        mapped = enable_when(instrument, item.enable_when, at)
        if mapped is None:
            extensions.append(
                {
                    "url": at.extension(EXT_ENABLE_WHEN),
                    "valueString": as_json_text(item.enable_when),
                }
            )
        else:
            conditions, behaviour = mapped
            out["enableWhen"] = conditions
            if len(conditions) > 1:
                out["enableBehavior"] = behaviour
    if extensions:
        out = {"extension": extensions, **out}
    out["required"] = item.required
    if item.type == "multi_choice":
        out["repeats"] = True
    if "max_length" in raw:
        out["maxLength"] = item.max_length
    if choice_set is not None:
        system = at.choice_system(instrument.id, choice_set)
        out["answerOption"] = [
            {"valueCoding": coding(system, instrument.version, c.code, c.label)}
            for c in item.choices
        ]
    if raw.get("help"):
        out["item"] = [
            {
                "extension": [
                    {
                        "url": ITEM_CONTROL,
                        "valueCodeableConcept": {
                            "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "help"}]
                        },
                    }
                ],
                "linkId": item.id + HELP_SUFFIX,
                "text": raw["help"],
                "type": "display",
            }
        ]
    return out


def coding(system: str, version: str, code: int, label: str) -> dict[str, Any]:
    """A choice as a Coding, its code's value as the weight a score adds (ordinalValue)."""
    return {
        "extension": [{"url": ORDINAL_VALUE, "valueDecimal": code}],
        "system": system,
        "version": version,
        "code": str(code),
        "display": label,
    }


# --- skip logic ----------------------------------------------------------------------------


def enable_when(
    instrument: Instrument, condition: Condition, at: FhirBase
) -> tuple[list[dict[str, Any]], str] | None:
    """A condition as (enableWhen entries, enableBehavior), or None when FHIR R4's one level
    of 'any' or 'all' cannot say it exactly (the caller then uses our extension).

    A comparison on a choice item becomes one '=' per code that meets it (FHIR compares
    Codings only for equality), which an 'any' can hold and an 'all' cannot."""
    if "any" in condition or "all" in condition:
        behaviour = "any" if "any" in condition else "all"
        leaves = condition[behaviour]
    else:
        behaviour, leaves = "", [condition]
    entries: list[dict[str, Any]] = []
    for leaf in leaves:
        if "item" not in leaf:
            return None  # nested any/all
        mapped = _leaf(instrument, leaf, at)
        if mapped is None:
            return None
        needs, found = mapped
        if len(found) > 1:
            if behaviour == "":
                behaviour = needs
            elif behaviour != needs:
                return None
        entries.extend(found)
    return entries, behaviour or "any"


def _leaf(
    instrument: Instrument, leaf: Condition, at: FhirBase
) -> tuple[str, list[dict[str, Any]]] | None:
    """(the behaviour several entries need, the entries) for one comparison."""
    target = instrument.by_id[leaf["item"]]
    op, question = leaf["op"], target.id
    if op == "answered":
        return "any", [{"question": question, "operator": "exists", "answerBoolean": True}]
    if target.type in ("choice", "multi_choice"):
        if target.type == "multi_choice" and op != "includes":
            return None  # a list compared with a code: never meaningful
        if op == "includes":
            codes = [c for c in target.choices if c.code == leaf["value"]]
        else:
            codes = [c for c in target.choices if compare(c.code, op, leaf["value"])]
        if not codes:
            return None
        system = choice_systems(instrument, at)[question]
        return "any", [
            {
                "question": question,
                "operator": "=",
                "answerCoding": {
                    "system": system,
                    "code": str(c.code),
                    "display": c.label,
                },
            }
            for c in codes
        ]
    key = _answer_key(target, leaf["value"])
    if key is None or (target.type in ("text", "boolean") and op not in ("==", "!=")):
        return None
    answer = {"question": question, key.replace("value", "answer"): leaf["value"]}
    if op == "!=":
        exists = {"question": question, "operator": "exists", "answerBoolean": True}
        return "all", [exists, {**answer, "operator": "!="}]
    return "any", [{**answer, "operator": OPERATORS[op]}]


def _answer_key(item: Item, value: Any) -> str | None:
    """The value[x] a condition's value takes for this item, or None when it does not fit."""
    kind = item.type
    if kind == "boolean":
        return "valueBoolean" if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None
    if kind in ("integer", "decimal") and isinstance(value, int | float):
        return "valueInteger" if kind == "integer" and isinstance(value, int) else "valueDecimal"
    if kind in ("text", "date") and isinstance(value, str):
        return ANSWER_KEYS[kind]
    return None

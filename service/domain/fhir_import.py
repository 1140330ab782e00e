"""A FHIR R4 Questionnaire -> a draft instrument definition in this service's format.

The reverse of ``service.domain.fhir.questionnaire``: what that writes comes back as it was
(items, choice sets, codes, skip logic, and from our extensions scores, alerts, a consent
form's changes and re-consent rule, and choice sets no item uses). From
other sources it takes display, boolean, choice, integer, decimal, string, text and date
items, answerOptions whose codes (or ordinalValues) are whole numbers, and enableWhen; it
refuses, naming the place, whatever it cannot carry over exactly, rather than guess.
Ignored extras (other extensions, initial values, prefixes) are listed as notes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.domain.fhir import (
    EXT_ALERT,
    EXT_CHANGE,
    EXT_CHOICE_SET,
    EXT_CONTACT,
    EXT_ENABLE_WHEN,
    EXT_IDENTIFYING,
    EXT_INFORMATION_SHEET,
    EXT_KIND,
    EXT_RECONSENT,
    EXT_SCORE,
    ITEM_CONTROL,
    MAX_VALUE,
    MIN_VALUE,
    ORDINAL_VALUE,
)
from service.domain.instruments import compare

_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_ITEM_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_INTEGER = re.compile(r"^-?(0|[1-9]\d*)$")
_TYPES = {
    "boolean": "boolean",
    "choice": "choice",
    "integer": "integer",
    "decimal": "decimal",
    "string": "text",
    "text": "text",
    "date": "date",
}
_OPERATORS = {"=": "==", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
_OUR_EXTENSIONS = "/StructureDefinition/psam-"
_CHOICES_PATH = "/choices/"
# Tried in this order when a set of codes is turned back into one comparison.
_COLLAPSE = ("==", ">", ">=", "<", "<=", "!=")


class ImportRefused(ValueError):
    """A Questionnaire with parts that have no exact place in our format."""

    def __init__(self, faults: Sequence[tuple[str, str]]):
        self.faults = list(faults)
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in self.faults))


@dataclass
class _Draft:
    faults: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    link_ids: dict[str, str] = field(default_factory=dict)  # FHIR linkId -> our item id
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # by our item id
    codes: dict[str, dict[str, int]] = field(default_factory=dict)  # item -> FHIR code -> ours
    sets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def refuse(self, path: str, message: str) -> None:
        self.faults.append((path, message))


@dataclass(frozen=True)
class Imported:
    definition: dict[str, Any]
    notes: list[str]


def import_questionnaire(
    resource: Mapping[str, Any], *, instrument_id: str | None = None, version: str | None = None
) -> Imported:
    """A draft definition from a Questionnaire, or ImportRefused naming every fault."""
    draft = _Draft()
    if resource.get("resourceType") != "Questionnaire":
        raise ImportRefused([("resourceType", "must be 'Questionnaire'")])
    ident = instrument_id or _id_of(resource)
    if ident is None or not _ID.match(ident):
        draft.refuse(
            "url",
            f"no instrument id (lowercase letters, digits, '-') in {ident!r}: give one with --id",
        )
    chosen = version or resource.get("version")
    if not isinstance(chosen, str) or not _SEMVER.match(chosen):
        draft.refuse("version", f"{chosen!r} is not MAJOR.MINOR.PATCH: give one with --version")
    if resource.get("modifierExtension"):
        draft.refuse("modifierExtension", "a modifier extension changes the meaning: not mapped")
    ours = _our_extensions(resource.get("extension", []), "", draft)
    kind = ours.get(EXT_KIND, ["questionnaire"])[0]
    preamble: list[str] = []
    raw_items = resource.get("item") or []
    if not raw_items:
        draft.refuse("item", "a questionnaire needs at least one question")
    questions_started = False
    for index, raw in enumerate(raw_items):
        path = f"item[{index}]"
        if raw.get("type") == "display" and not questions_started:
            if raw.get("text"):
                preamble.append(raw["text"])
            continue
        questions_started = True
        _item(raw, path, draft)
    definition: dict[str, Any] = {
        "id": ident,
        "version": chosen,
        "kind": kind,
        "title": resource.get("title") or resource.get("name") or ident,
        "language": resource.get("language") or "en",
        "source": resource.get("copyright")
        or resource.get("publisher")
        or f"Imported from the FHIR Questionnaire {resource.get('url') or resource.get('id')}",
    }
    if preamble:
        definition["preamble"] = "\n\n".join(preamble)
    if EXT_INFORMATION_SHEET in ours:
        definition["information_sheet_version"] = ours[EXT_INFORMATION_SHEET][0]
    for text in ours.get(EXT_CHOICE_SET, []):
        _unused_choice_set(text, draft)
    definition["choice_sets"] = draft.sets
    definition["items"] = list(draft.items.values())
    definition["scores"] = [_json(s, "extension (score)", draft) for s in ours.get(EXT_SCORE, [])]
    definition["alerts"] = [_json(a, "extension (alert)", draft) for a in ours.get(EXT_ALERT, [])]
    if EXT_CHANGE in ours:
        definition["changes"] = ours[EXT_CHANGE]
    if EXT_RECONSENT in ours:
        definition["reconsent"] = ours[EXT_RECONSENT][0]
    if draft.faults:
        raise ImportRefused(draft.faults)
    return Imported(definition, draft.notes)


def _unused_choice_set(text: str, draft: _Draft) -> None:
    """A choice set that no item's answerOptions carry, kept under its own name."""
    path = "extension (choice set)"
    found = _json(text, path, draft)
    name = found.get("name") if isinstance(found, dict) else None
    choices = found.get("choices") if isinstance(found, dict) else None
    if not isinstance(name, str) or not _ITEM_ID.match(name) or not isinstance(choices, list):
        draft.refuse(path, "needs a 'name' (lowercase letters, digits, '_') and 'choices'")
    elif name in draft.sets:
        draft.refuse(path, f"{name!r} is also the name of an item's choice set")
    else:
        draft.sets[name] = choices


def _id_of(resource: Mapping[str, Any]) -> str | None:
    url = resource.get("url")
    if isinstance(url, str) and url.rstrip("/"):
        return url.rstrip("/").rpartition("/")[2]
    ident = resource.get("id")
    return ident if isinstance(ident, str) else None


def _json(text: str, path: str, draft: _Draft) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        draft.refuse(path, "does not hold JSON")
        return {}


def _our_extensions(
    extensions: Sequence[Mapping[str, Any]], path: str, draft: _Draft
) -> dict[str, list[Any]]:
    """Our extensions by name (their values, in order); others become notes."""
    found: dict[str, list[Any]] = {}
    for ext in extensions:
        url = str(ext.get("url", ""))
        if _OUR_EXTENSIONS in url:
            name = url.rpartition("/StructureDefinition/")[2]
            value = next((v for k, v in ext.items() if k.startswith("value")), None)
            found.setdefault(name, []).append(value)
        elif url not in (MIN_VALUE, MAX_VALUE, ORDINAL_VALUE, ITEM_CONTROL):
            draft.notes.append(f"{path or 'Questionnaire'}: extension {url} ignored")
    return found


def _item_id(link_id: Any, path: str, draft: _Draft) -> str | None:
    """Our id for a linkId: as it is when it fits, else lowercased with '_' for the rest."""
    if not isinstance(link_id, str) or not link_id:
        draft.refuse(f"{path}.linkId", "missing")
        return None
    ident = link_id if _ITEM_ID.match(link_id) else re.sub(r"[^a-z0-9_]", "_", link_id.lower())
    if not ident[0].isalpha():
        ident = "q" + ident
    if ident in draft.items or ident in draft.link_ids.values():
        draft.refuse(f"{path}.linkId", f"{link_id!r} clashes with another item as {ident!r}")
        return None
    if ident != link_id:
        draft.notes.append(f"{path}: linkId {link_id!r} becomes item id {ident!r}")
    return ident


def _item(raw: Mapping[str, Any], path: str, draft: _Draft) -> None:
    fhir_type = raw.get("type")
    kind = _TYPES.get(str(fhir_type))
    if kind is None:
        draft.refuse(f"{path}.type", f"a {fhir_type!r} item has no place in our format")
        return
    if raw.get("modifierExtension"):
        draft.refuse(f"{path}.modifierExtension", "a modifier extension: not mapped")
    ident = _item_id(raw.get("linkId"), path, draft)
    if ident is None:
        return
    ours = _our_extensions(raw.get("extension", []), path, draft)
    out: dict[str, Any] = {"id": ident, "text": raw.get("text") or ident}
    if not raw.get("text"):
        draft.refuse(f"{path}.text", "a question needs its text")
    if kind == "choice" and raw.get("repeats"):
        kind = "multi_choice"
    elif raw.get("repeats"):
        draft.refuse(f"{path}.repeats", f"a repeating {fhir_type} item is not mapped")
    out["type"] = kind
    out["required"] = raw.get("required", False) is True
    for name, key in ((EXT_IDENTIFYING, "identifying"), (EXT_CONTACT, "contact")):
        if ours.get(name) == [True]:
            out[key] = True
    if kind in ("choice", "multi_choice"):
        out["choices"] = _choices(raw, ident, path, draft)
    for ext in raw.get("extension", []):
        if ext.get("url") in (MIN_VALUE, MAX_VALUE) and kind in ("integer", "decimal"):
            key = "min" if ext["url"] == MIN_VALUE else "max"
            out[key] = ext.get("valueInteger", ext.get("valueDecimal"))
    if "maxLength" in raw and kind == "text":
        out["max_length"] = raw["maxLength"]
    for extra in ("initial", "prefix", "readOnly", "code", "definition"):
        if extra in raw:
            draft.notes.append(f"{path}: {extra} ignored")
    help_text = _help(raw, ident, path, draft)
    if help_text is not None:
        out["help"] = help_text
    draft.link_ids[raw["linkId"]] = ident
    if EXT_ENABLE_WHEN in ours:
        out["enable_when"] = _json(ours[EXT_ENABLE_WHEN][0], f"{path}.extension", draft)
    elif raw.get("enableWhen"):
        condition = _condition(raw, path, draft)
        if condition is not None:
            out["enable_when"] = condition
    draft.items[ident] = out


def _help(raw: Mapping[str, Any], ident: str, path: str, draft: _Draft) -> str | None:
    children = raw.get("item") or []
    if not children:
        return None
    texts = [c.get("text", "") for c in children if c.get("type") == "display"]
    if len(children) != 1 or len(texts) != 1:
        draft.refuse(f"{path}.item", "items nested under a question are not mapped (help only)")
        return None
    return str(texts[0])


def _choices(raw: Mapping[str, Any], ident: str, path: str, draft: _Draft) -> str:
    """The item's choice set (shared with an earlier item that has the very same one)."""
    if "answerValueSet" in raw:
        draft.refuse(f"{path}.answerValueSet", "a value set is not expanded: list answerOptions")
    options = raw.get("answerOption") or []
    if not options:
        draft.refuse(f"{path}.answerOption", "a choice item needs its answerOptions")
    coded = [o.get("valueCoding") for o in options]
    if any(c is None for c in coded):
        draft.refuse(f"{path}.answerOption", "only valueCoding options are mapped")
        return ident
    by_code = all(_INTEGER.match(str(c.get("code", ""))) for c in coded)
    ordinals = [_ordinal(o, c) for o, c in zip(options, coded, strict=True)]
    if not by_code and not all(isinstance(o, int) for o in ordinals):
        draft.refuse(
            f"{path}.answerOption",
            "codes must be whole numbers, or every option needs a whole-number ordinalValue",
        )
        return ident
    choices, codes = [], {}
    for i, c in enumerate(coded):
        code = int(c["code"]) if by_code else int(ordinals[i])
        if not c.get("display"):
            draft.refuse(f"{path}.answerOption[{i}]", "an option needs its display")
        choices.append({"code": code, "label": c.get("display") or str(code)})
        codes[str(c.get("code"))] = code
    draft.codes[ident] = codes
    if not by_code:
        draft.notes.append(f"{path}: codes are the options' ordinalValues")
    system = str(coded[0].get("system", ""))
    name = system.rpartition(_CHOICES_PATH)[2] if _CHOICES_PATH in system else ident
    for existing, known in draft.sets.items():
        if known == choices:
            return existing
    if not _ITEM_ID.match(name) or name in draft.sets:
        name = ident
    draft.sets[name] = choices
    return name


def _ordinal(option: Mapping[str, Any], coded: Mapping[str, Any]) -> Any:
    for ext in [*coded.get("extension", []), *option.get("extension", [])]:
        if ext.get("url") == ORDINAL_VALUE:
            value = ext.get("valueDecimal")
            if isinstance(value, int | float) and float(value).is_integer():
                return int(value)
    return None


def _condition(raw: Mapping[str, Any], path: str, draft: _Draft) -> dict[str, Any] | None:
    """enableWhen back into one condition: an 'any' of '=' codings on a choice item folds
    into the one comparison that selects exactly those codes, when there is one."""
    entries = raw["enableWhen"]
    behaviour = raw.get("enableBehavior", "any")
    if len(entries) > 1 and behaviour not in ("any", "all"):
        draft.refuse(f"{path}.enableBehavior", "needed with more than one enableWhen")
        return None
    exists = {e.get("question") for e in entries if e.get("operator") == "exists"}
    leaves: list[dict[str, Any]] = []
    chosen: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        where = f"{path}.enableWhen[{i}]"
        question = draft.link_ids.get(entry.get("question"))
        if question is None:
            draft.refuse(f"{where}.question", "must be an earlier question")
            continue
        target = draft.items[question]
        operator = entry.get("operator")
        answer = next(((k, v) for k, v in entry.items() if k.startswith("answer")), None)
        if operator == "exists":
            if answer != ("answerBoolean", True):
                draft.refuse(where, "only 'exists' true is mapped (nothing tests 'unanswered')")
            elif not (behaviour == "all" and _has_not_equal(entries, entry.get("question"))):
                leaves.append({"item": question, "op": "answered"})
            continue
        if answer is None:
            draft.refuse(where, "an answer is needed")
            continue
        key, value = answer
        if key == "answerCoding":
            code = draft.codes.get(question, {}).get(str(value.get("code")))
            if code is None or operator != "=":
                draft.refuse(where, "a coding must be one of the question's codes, with '='")
                continue
            if target["type"] == "multi_choice":
                leaves.append({"item": question, "op": "includes", "value": code})
            elif behaviour == "any":
                if question not in chosen:
                    leaves.append({"item": question, "codes": chosen.setdefault(question, [])})
                chosen[question].append(code)
            else:
                leaves.append({"item": question, "op": "==", "value": code})
            continue
        if key not in (
            "answerBoolean",
            "answerDecimal",
            "answerInteger",
            "answerDate",
            "answerString",
        ):
            draft.refuse(where, f"{key} is not mapped")
            continue
        if operator == "!=":
            if behaviour != "all" or entry.get("question") not in exists:
                draft.refuse(
                    where,
                    "'!=' holds for an unanswered item in FHIR, not here: "
                    "pair it with 'exists' in an 'all'",
                )
                continue
            leaves.append({"item": question, "op": "!=", "value": value})
        elif operator in _OPERATORS:
            leaves.append({"item": question, "op": _OPERATORS[operator], "value": value})
        else:
            draft.refuse(where, f"operator {operator!r} is not mapped")
    folded = [_fold(leaf, draft) for leaf in leaves]
    flat = [leaf for group in folded for leaf in group]
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    return {behaviour: flat}


def _has_not_equal(entries: Sequence[Mapping[str, Any]], question: Any) -> bool:
    return any(e.get("question") == question and e.get("operator") == "!=" for e in entries)


def _fold(leaf: dict[str, Any], draft: _Draft) -> list[dict[str, Any]]:
    """A set of codes on a choice item as one comparison if one says it, else one '==' each."""
    if "codes" not in leaf:
        return [leaf]
    chosen = set(leaf["codes"])
    item = draft.items[leaf["item"]]
    codes = [c["code"] for c in draft.sets[item["choices"]]]
    for op in _COLLAPSE:
        for value in codes:
            if {c for c in codes if compare(c, op, value)} == chosen:
                return [{"item": leaf["item"], "op": op, "value": value}]
    return [{"item": leaf["item"], "op": "==", "value": c} for c in leaf["codes"]]

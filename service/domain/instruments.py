"""Instrument definitions: meaning checks, skip logic and answer validation.

The structural shape of a definition file is checked by ``schemas.instrument``; this module
takes a structurally valid mapping and checks what a schema cannot: that every reference
points at an item that exists, that conditions only look backwards, that bands cover a
score's whole range. It then validates a participant's answers against the definition.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.domain.canonical import content_hash
from service.domain.i18n import languages_of, negotiate, render, translation_faults

ITEM_TYPES = ("choice", "multi_choice", "integer", "decimal", "text", "date", "boolean")
COMPARISONS = ("==", "!=", ">", ">=", "<", "<=")
CONDITION_OPS = (*COMPARISONS, "includes", "answered")
SCORE_METHODS = ("sum", "mean", "count", "rule")
WITHHOLD, PRORATE = "withhold", "prorate"
MISSING_RULES = (WITHHOLD, PRORATE)
SCORABLE_TYPES = ("choice", "integer", "decimal", "boolean")
DEFAULT_TEXT_MAX = 2000
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

Answers = Mapping[str, Any]
Condition = Mapping[str, Any]


class DefinitionError(ValueError):
    """A definition that is well-formed but means something impossible."""

    def __init__(self, faults: Sequence[tuple[str, str]]):
        self.faults = list(faults)
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in self.faults))


@dataclass(frozen=True)
class Choice:
    code: int
    label: str


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    type: str
    required: bool = False
    choices: tuple[Choice, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int = DEFAULT_TEXT_MAX
    identifying: bool = False
    contact: bool = False
    enable_when: Condition | None = None

    @property
    def codes(self) -> frozenset[int]:
        return frozenset(c.code for c in self.choices)

    def value_range(self) -> tuple[float, float] | None:
        """The smallest and largest value a scored item can take, when bounded."""
        if self.type == "choice":
            return (min(self.codes), max(self.codes)) if self.codes else None
        if self.type == "boolean":
            return (0, 1)
        if self.min is not None and self.max is not None:
            return (self.min, self.max)
        return None


@dataclass(frozen=True)
class Band:
    min: float
    max: float
    label: str


@dataclass(frozen=True)
class Criterion:
    items: tuple[str, ...]
    when: Condition
    at_least: int


@dataclass(frozen=True)
class Score:
    id: str
    label: str
    method: str
    items: tuple[str, ...] = ()
    reverse: frozenset[str] = frozenset()
    count_when: Condition | None = None
    criteria: tuple[Criterion, ...] = ()
    bands: tuple[Band, ...] = ()
    participant_visible: bool = False
    missing_rule: str = WITHHOLD
    max_missing: int = 0
    missing_source: str | None = None
    source: str | None = None
    note: str | None = None

    def referenced_items(self) -> tuple[str, ...]:
        if self.method == "rule":
            return tuple(i for c in self.criteria for i in c.items)
        return self.items


@dataclass(frozen=True)
class Alert:
    id: str
    when: Condition
    severity: str
    signposting: str


@dataclass(frozen=True)
class Instrument:
    """A parsed, checked instrument or consent form definition."""

    id: str
    version: str
    kind: str
    title: str
    sha256: str
    items: tuple[Item, ...]
    scores: tuple[Score, ...]
    alerts: tuple[Alert, ...]
    information_sheet_version: str | None
    definition: Mapping[str, Any] = field(repr=False, compare=False)
    changes: tuple[str, ...] = ()
    reconsent: str | None = None  # a consent form's rule for earlier signers
    preamble: str | None = None
    # The texts above are in ``language``, one of ``languages`` (the version's, default
    # first); ``sha256`` covers every language, ``text_sha256`` the texts as shown here.
    language: str = "en-GB"
    languages: tuple[str, ...] = ("en-GB",)
    text_sha256: str = ""
    by_id: Mapping[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {i.id: i for i in self.items})


def version_key(version: str) -> tuple[int, int, int]:
    """Sort key for a MAJOR.MINOR.PATCH version string."""
    match = _SEMVER.match(version)
    if not match:
        raise ValueError(f"not a MAJOR.MINOR.PATCH version: {version!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)


def parse_instrument(data: Mapping[str, Any], language: str | None = None) -> Instrument:
    """Build an Instrument from a structurally valid definition, checking its meaning, with
    its texts in ``language`` (the best match the version offers; by default its first)."""
    faults = translation_faults(data)
    if faults:
        raise DefinitionError(faults)
    languages = languages_of(data)
    lang = negotiate([language or languages[0]], languages)
    full, data = data, render(data, lang)
    sets: dict[str, tuple[Choice, ...]] = {}
    for name, options in data.get("choice_sets", {}).items():
        sets[name] = tuple(Choice(o["code"], o["label"]) for o in options)
        seen: set[int] = set()
        for i, choice in enumerate(sets[name]):
            if choice.code in seen:
                faults.append((f"$.choice_sets.{name}[{i}].code", f"duplicate code {choice.code}"))
            seen.add(choice.code)

    items: list[Item] = []
    known: dict[str, Item] = {}
    for i, raw in enumerate(data["items"]):
        path = f"$.items[{i}]"
        item = _parse_item(raw, sets, path, faults)
        if item.id in known:
            faults.append((f"{path}.id", f"duplicate item id {item.id!r}"))
        if item.enable_when is not None:
            _check_condition(item.enable_when, known, f"{path}.enable_when", faults)
        known[item.id] = item
        items.append(item)

    scores = tuple(
        _parse_score(raw, known, f"$.scores[{i}]", faults)
        for i, raw in enumerate(data.get("scores", []))
    )
    _check_unique((s.id for s in scores), "$.scores", faults)
    alerts = []
    score_ids = {s.id for s in scores}
    for i, raw in enumerate(data.get("alerts", [])):
        _check_condition(raw["when"], known, f"$.alerts[{i}].when", faults, score_ids)
        alerts.append(Alert(raw["id"], raw["when"], raw["severity"], raw["signposting"]))
    _check_unique((a.id for a in alerts), "$.alerts", faults)

    if data["kind"] == "consent":
        for i, item in enumerate(items):
            if item.type != "boolean":
                faults.append((f"$.items[{i}].type", "a consent clause must be boolean"))
            if item.contact and item.required:
                faults.append((f"$.items[{i}].contact", "a contact clause must be optional"))
        if scores or alerts:
            faults.append(("$", "a consent form has no scores or alerts"))
    else:
        for i, item in enumerate(items):
            if item.contact:
                faults.append((f"$.items[{i}].contact", "only consent clauses are contact clauses"))
    try:
        version_key(data["version"])
    except ValueError as exc:
        faults.append(("$.version", str(exc)))
    if faults:
        raise DefinitionError(faults)
    return Instrument(
        id=data["id"],
        version=data["version"],
        kind=data["kind"],
        title=data["title"],
        sha256=content_hash(full),
        items=tuple(items),
        scores=scores,
        alerts=tuple(alerts),
        information_sheet_version=data.get("information_sheet_version"),
        definition=full,
        changes=tuple(data.get("changes", ())),
        reconsent=data.get("reconsent"),
        preamble=data.get("preamble"),
        language=lang,
        languages=tuple(languages),
        text_sha256=content_hash(data),
    )


def in_language(instrument: Instrument, language: str) -> Instrument:
    """The same version with its texts in ``language`` (or the closest it offers): the same
    ids, codes, rules and ``sha256``; its own ``text_sha256``."""
    if negotiate([language], list(instrument.languages)) == instrument.language:
        return instrument
    return parse_instrument(instrument.definition, language)


def _check_unique(ids: Iterable[str], path: str, faults: list[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            faults.append((f"{path}[{i}].id", f"duplicate id {ident!r}"))
        seen.add(ident)


def _parse_item(
    raw: Mapping[str, Any],
    sets: Mapping[str, tuple[Choice, ...]],
    path: str,
    faults: list[tuple[str, str]],
) -> Item:
    kind = raw["type"]
    choices: tuple[Choice, ...] = ()
    if kind in ("choice", "multi_choice"):
        name = raw.get("choices")
        if not isinstance(name, str) or name not in sets:
            faults.append((f"{path}.choices", f"unknown choice set {name!r}"))
        else:
            choices = sets[name]
    elif "choices" in raw:
        faults.append((f"{path}.choices", f"a {kind} item has no choices"))
    if ("min" in raw or "max" in raw) and kind not in ("integer", "decimal"):
        faults.append((path, f"a {kind} item has no min or max"))
    if "max_length" in raw and kind != "text":
        faults.append((f"{path}.max_length", f"a {kind} item has no max_length"))
    low, high = raw.get("min"), raw.get("max")
    if low is not None and high is not None and low > high:
        faults.append((f"{path}.min", "min is greater than max"))
    return Item(
        id=raw["id"],
        text=raw["text"],
        type=kind,
        required=raw.get("required", False),
        choices=choices,
        min=low,
        max=high,
        max_length=raw.get("max_length", DEFAULT_TEXT_MAX),
        identifying=raw.get("identifying", False),
        contact=raw.get("contact", False),
        enable_when=raw.get("enable_when"),
    )


def _check_condition(
    cond: Condition,
    known: Mapping[str, Item],
    path: str,
    faults: list[tuple[str, str]],
    scores: Iterable[str] = (),
) -> None:
    """A condition may only look at items defined before the one it guards; an alert's
    condition may also look at the instrument's scores."""
    for key in ("any", "all"):
        if key in cond:
            for i, sub in enumerate(cond[key]):
                _check_condition(sub, known, f"{path}.{key}[{i}]", faults, scores)
            return
    if "score" in cond:
        if cond["score"] not in scores:
            faults.append((f"{path}.score", f"refers to {cond['score']!r}, not a score here"))
        elif cond["op"] not in COMPARISONS or "value" not in cond:
            faults.append((f"{path}.op", "a score condition is a comparison with a value"))
        return
    target = known.get(cond["item"])
    if target is None:
        faults.append((f"{path}.item", f"refers to {cond['item']!r}, not an earlier item"))
        return
    op = cond["op"]
    if op == "includes" and target.type != "multi_choice":
        faults.append((f"{path}.op", "'includes' applies only to multi_choice items"))
    if op == "answered":
        if "value" in cond:
            faults.append((f"{path}.value", "'answered' takes no value"))
    elif "value" not in cond:
        faults.append((f"{path}.value", f"'{op}' needs a value"))
    elif target.type in ("choice", "multi_choice") and cond["value"] not in target.codes:
        faults.append((f"{path}.value", f"{cond['value']!r} is not a code of {target.id!r}"))


def _parse_score(
    raw: Mapping[str, Any], known: Mapping[str, Item], path: str, faults: list[tuple[str, str]]
) -> Score:
    method = raw["method"]
    criteria = tuple(
        Criterion(tuple(c["items"]), c["when"], c["at_least"]) for c in raw.get("criteria", [])
    )
    score = Score(
        id=raw["id"],
        label=raw["label"],
        method=method,
        items=tuple(raw.get("items", [])),
        reverse=frozenset(raw.get("reverse", [])),
        count_when=raw.get("count_when"),
        criteria=criteria,
        bands=tuple(Band(b["min"], b["max"], b["label"]) for b in raw.get("bands", [])),
        participant_visible=raw.get("participant_visible", False),
        missing_rule=raw.get("missing", {}).get("rule", WITHHOLD),
        max_missing=raw.get("missing", {}).get("max_missing", 0),
        missing_source=raw.get("missing", {}).get("source"),
        source=raw.get("source"),
        note=raw.get("note"),
    )
    if score.missing_rule == PRORATE and (
        method != "sum" or score.reverse or score.max_missing >= len(score.items)
    ):
        faults.append(
            (f"{path}.missing", "only a sum without reversed items prorates, with an item left")
        )
    if method == "rule":
        if not criteria or score.items or score.bands:
            faults.append((path, "a rule score has criteria, and no items or bands"))
        for i, crit in enumerate(criteria):
            if not 1 <= crit.at_least <= len(crit.items):
                faults.append((f"{path}.criteria[{i}].at_least", "must be 1..number of items"))
    elif not score.items:
        faults.append((f"{path}.items", f"a {method} score needs items"))
    if (method == "count") != (score.count_when is not None):
        faults.append((f"{path}.count_when", "count_when belongs to, and only to, count scores"))
    for item_id in score.referenced_items():
        item = known.get(item_id)
        if item is None:
            faults.append((f"{path}.items", f"unknown item {item_id!r}"))
        elif item.type not in SCORABLE_TYPES:
            faults.append((f"{path}.items", f"{item_id!r} is a {item.type} item: not scorable"))
    for item_id in score.reverse:
        item = known.get(item_id)
        if item_id not in score.items or method not in ("sum", "mean"):
            faults.append((f"{path}.reverse", f"{item_id!r} is not one of this score's items"))
        elif item is not None and item.value_range() is None:
            faults.append((f"{path}.reverse", f"{item_id!r} has no bounded range to reverse"))
    _check_bands(score, known, path, faults)
    return score


def _check_bands(
    score: Score, known: Mapping[str, Item], path: str, faults: list[tuple[str, str]]
) -> None:
    """Bands must not overlap, and for whole-number scores must cover the range without gaps."""
    bands = score.bands
    for i, band in enumerate(bands):
        if band.min > band.max:
            faults.append((f"{path}.bands[{i}]", "min is greater than max"))
        if i and band.min <= bands[i - 1].max:
            faults.append((f"{path}.bands[{i}]", "overlaps the band before it"))
    whole = score.method == "count" or (
        score.method == "sum"
        and all(
            (it := known.get(i)) is not None and it.type in ("choice", "integer", "boolean")
            for i in score.items
        )
    )
    if not bands or not whole:
        return
    low, high = possible_range(score, known)
    if low is None or high is None:
        return
    if bands[0].min != low or bands[-1].max != high:
        faults.append((f"{path}.bands", f"bands must cover {low:g}..{high:g}"))
    for i in range(1, len(bands)):
        if bands[i].min != bands[i - 1].max + 1:
            faults.append((f"{path}.bands[{i}].min", "leaves a gap after the band before it"))


def possible_range(score: Score, known: Mapping[str, Item]) -> tuple[float | None, float | None]:
    """The lowest and highest value a sum or count score can take."""
    if score.method == "count":
        return (0, len(score.items))
    low = high = 0.0
    for item_id in score.items:
        bounds = known[item_id].value_range()
        if bounds is None:
            return (None, None)
        low, high = low + bounds[0], high + bounds[1]
    return (low, high)


# --- skip logic and answer validation -------------------------------------------------------


def condition_holds(
    cond: Condition, answers: Answers, scores: Mapping[str, Any] | None = None
) -> bool:
    """Evaluate a condition against the answers given (and, for an alert, the scores); an
    unanswered item or a withheld score satisfies nothing."""
    if "any" in cond:
        return any(condition_holds(c, answers, scores) for c in cond["any"])
    if "all" in cond:
        return all(condition_holds(c, answers, scores) for c in cond["all"])
    op = cond["op"]
    if "score" in cond:
        value = (scores or {}).get(cond["score"])
        return (
            value is not None and not isinstance(value, bool) and compare(value, op, cond["value"])
        )
    if cond["item"] not in answers:
        return False
    value = answers[cond["item"]]
    if op == "answered":
        return True
    if op == "includes":
        return isinstance(value, list) and cond["value"] in value
    return compare(value, op, cond["value"])


def compare(left: Any, op: str, right: Any) -> bool:
    """Apply a comparison operator; values of kinds that do not compare never match."""
    try:
        if op == "==":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
    except TypeError:
        return False
    raise ValueError(f"unknown operator {op!r}")


def enabled_items(instrument: Instrument, answers: Answers) -> list[Item]:
    """The items that the given answers make visible."""
    return [
        item
        for item in instrument.items
        if item.enable_when is None or condition_holds(item.enable_when, answers)
    ]


def validate_answers(
    instrument: Instrument, answers: Answers, *, complete: bool
) -> dict[str, list[str]]:
    """Every fault in a set of answers, keyed by item id; empty when they are acceptable.

    ``complete=False`` accepts a partial set (save and return later): each given answer must
    still be valid, but required items may be missing.
    """
    errors: dict[str, list[str]] = {}
    faults = {
        item_id: value_fault(instrument.by_id[item_id], value)
        for item_id, value in answers.items()
        if item_id in instrument.by_id
    }
    for item_id in answers:
        if item_id not in instrument.by_id:
            errors.setdefault(item_id, []).append("unknown item")
    # Skip logic reads only the acceptable answers: a bad answer should be reported once, not
    # also as a cascade of items it would have shown or hidden.
    valid = {k: v for k, v in answers.items() if k in faults and faults[k] is None}
    enabled = {item.id for item in enabled_items(instrument, valid)}
    for item in instrument.items:
        if item.id not in answers:
            if complete and item.required and item.id in enabled:
                errors.setdefault(item.id, []).append("an answer is required")
        elif faults[item.id]:
            errors.setdefault(item.id, []).append(str(faults[item.id]))
        elif item.id not in enabled:
            errors.setdefault(item.id, []).append(
                "this item is not shown for the answers given and must be left out"
            )
    return errors


def value_fault(item: Item, value: Any) -> str | None:
    """Why a value is not an acceptable answer to an item, or None when it is."""
    kind = item.type
    if value is None:
        return "must not be null: leave the item out instead"
    if kind == "choice":
        if not _is_int(value) or value not in item.codes:
            return f"must be one of the codes {sorted(item.codes)}"
    elif kind == "multi_choice":
        if not isinstance(value, list) or not all(_is_int(v) for v in value):
            return "must be a list of codes"
        if len(set(value)) != len(value):
            return "lists a code more than once"
        if not set(value) <= item.codes:
            return f"codes must be among {sorted(item.codes)}"
        if item.required and not value:
            return "choose at least one option"
    elif kind in ("integer", "decimal"):
        if kind == "integer" and not _is_int(value):
            return "must be a whole number"
        if not _is_int(value) and not (isinstance(value, float) and math.isfinite(value)):
            return "must be a number"
        if item.min is not None and value < item.min:
            return f"must be at least {item.min:g}"
        if item.max is not None and value > item.max:
            return f"must be at most {item.max:g}"
    elif kind == "text":
        if not isinstance(value, str):
            return "must be text"
        if len(value) > item.max_length:
            return f"must be at most {item.max_length} characters"
        if item.required and not value.strip():
            return "must not be blank"
    elif kind == "date":
        if not isinstance(value, str) or not _is_iso_date(value):
            return "must be a date as YYYY-MM-DD"
    elif kind == "boolean" and not isinstance(value, bool):
        return "must be true or false"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_iso_date(value: str) -> bool:
    try:
        return dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False

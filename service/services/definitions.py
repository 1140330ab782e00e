"""Reading definition files from ``instruments/``: shape first, then meaning."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError

from schemas.instrument import InstrumentDefinitionSchema, ProtocolSchema
from schemas.paths import json_paths
from service.domain.fhir_import import Imported, ImportRefused, import_questionnaire
from service.domain.instruments import (
    DefinitionError,
    Instrument,
    parse_instrument,
    version_key,
)
from service.domain.protocol import Protocol, parse_protocol

PROTOCOL_FILE = "protocol.json"
AMENDED_PROTOCOLS = "protocol-*.json"  # later protocol versions, beside the first


class DefinitionFileError(Exception):
    """A definition file that cannot be used, with the JSON path of every fault."""

    def __init__(self, path: Path, faults: list[tuple[str, str]]):
        self.path = path
        self.faults = faults
        lines = "\n".join(f"  {p}: {m}" for p, m in faults)
        super().__init__(f"{path}:\n{lines}")


@dataclass(frozen=True)
class DefinitionSet:
    instruments: list[Instrument]
    protocol: Protocol  # protocol.json: the first version
    amendments: tuple[Protocol, ...] = ()  # protocol-<version>.json, oldest first

    @property
    def protocols(self) -> tuple[Protocol, ...]:
        return (self.protocol, *self.amendments)


def _read(path: Path, schema: Schema) -> Any:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionFileError(path, [("$", f"cannot be read: {exc}")]) from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise DefinitionFileError(path, [("$", f"not valid JSON ({exc.msg} at {where})")]) from None
    if not isinstance(data, dict):
        raise DefinitionFileError(path, [("$", "must be a JSON object")])
    try:
        schema.load(data)
    except ValidationError as exc:
        raise DefinitionFileError(path, json_paths(exc.messages)) from None
    return data


def load_instrument_file(path: Path) -> Instrument:
    """Load one ``<id>/<version>.json``, checking it and that its name matches its content."""
    data = _read(path, InstrumentDefinitionSchema())
    try:
        instrument = parse_instrument(data)
    except DefinitionError as exc:
        raise DefinitionFileError(path, exc.faults) from None
    expected = (path.parent.name, path.stem)
    if (instrument.id, instrument.version) != expected:
        raise DefinitionFileError(
            path, [("$", f"holds {instrument.id} {instrument.version}, its path says {expected}")]
        )
    return instrument


def load_protocol_file(path: Path, questionnaires: Collection[tuple[str, str]]) -> Protocol:
    """Load ``protocol.json``, checking it names only questionnaires that exist."""
    data = _read(path, ProtocolSchema())
    try:
        return parse_protocol(data, questionnaires)
    except DefinitionError as exc:
        raise DefinitionFileError(path, exc.faults) from None


def load_definitions(directory: Path) -> DefinitionSet:
    """Every instrument version under ``directory`` and the protocol, all checked."""
    instruments = [load_instrument_file(p) for p in sorted(directory.glob("*/*.json"))]
    questionnaires = {(i.id, i.version) for i in instruments if i.kind == "questionnaire"}
    protocol = load_protocol_file(directory / PROTOCOL_FILE, questionnaires)
    amendments = []
    for path in sorted(directory.glob(AMENDED_PROTOCOLS)):
        amended = load_protocol_file(path, questionnaires)
        if path.stem != f"protocol-{amended.version}":
            raise DefinitionFileError(
                path, [("$.version", f"is {amended.version}, its name says otherwise")]
            )
        amendments.append(amended)
    amendments.sort(key=lambda p: version_key(p.version))
    return DefinitionSet(instruments, protocol, tuple(amendments))


def draft_from_fhir(
    resource: Any, *, instrument_id: str | None = None, version: str | None = None
) -> Imported:
    """A FHIR Questionnaire as a draft definition that would load as a file of its own, or
    ImportRefused naming each fault (of the mapping, then of the definition it gives)."""
    if not isinstance(resource, dict):
        raise ImportRefused([("$", "must be a JSON object (a FHIR Questionnaire)")])
    imported = import_questionnaire(resource, instrument_id=instrument_id, version=version)
    try:
        InstrumentDefinitionSchema().load(imported.definition)
        parse_instrument(imported.definition)
    except ValidationError as exc:
        raise ImportRefused(json_paths(exc.messages)) from None
    except DefinitionError as exc:
        raise ImportRefused(exc.faults) from None
    return imported

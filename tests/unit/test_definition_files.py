"""Definition files: a bad file is refused with its path and the JSON path of the fault."""

import json
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT
from service.services.definitions import (
    DefinitionFileError,
    load_definitions,
    load_instrument_file,
)
from tests.conftest import SHIPPED_IDS

SHIPPED = PROJECT_ROOT / "instruments"


def write(tmp_path: Path, name: str, version: str, data: object) -> Path:
    path = tmp_path / name / f"{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def phq9() -> dict:
    return json.loads((SHIPPED / "phq-9" / "1.0.0.json").read_text())


def test_every_shipped_definition_and_the_protocol_load() -> None:
    loaded = load_definitions(SHIPPED)
    ids = {i.id for i in loaded.instruments}
    assert ids == SHIPPED_IDS
    assert [t.id for t in loaded.protocol.timepoints] == ["baseline", "month-3", "month-6"]
    assert [(t.day, t.window_before, t.window_after) for t in loaded.protocol.timepoints] == [
        (0, 0, 14),
        (90, 14, 14),
        (180, 14, 14),
    ]


def test_a_wrong_type_deep_in_the_file_is_named_by_json_path(tmp_path: Path) -> None:
    data = phq9()
    data["items"][2]["type"] = "slider"
    path = write(tmp_path, "phq-9", "1.0.0", data)
    with pytest.raises(DefinitionFileError) as info:
        load_instrument_file(path)
    assert info.value.path == path
    assert [p for p, _ in info.value.faults] == ["$.items[2].type"]
    assert str(path) in str(info.value)


def test_an_unknown_key_is_refused_not_ignored(tmp_path: Path) -> None:
    data = phq9()
    data["scores"][0]["weight"] = 2
    with pytest.raises(DefinitionFileError) as info:
        load_instrument_file(write(tmp_path, "phq-9", "1.0.0", data))
    assert info.value.faults == [("$.scores[0].weight", "Unknown field.")]


def test_invalid_json_is_refused_with_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(DefinitionFileError) as info:
        load_instrument_file(write(tmp_path, "phq-9", "1.0.0", '{"id": "phq-9",'))
    assert "line 1" in info.value.faults[0][1]


def test_a_file_whose_content_does_not_match_its_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DefinitionFileError) as info:
        load_instrument_file(write(tmp_path, "phq-9", "1.0.1", phq9()))
    assert "its path says" in info.value.faults[0][1]


def test_a_protocol_naming_a_missing_questionnaire_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "defs"
    write(folder, "phq-9", "1.0.0", phq9())
    (folder / "protocol.json").write_text((SHIPPED / "protocol.json").read_text())
    with pytest.raises(DefinitionFileError) as info:
        load_definitions(folder)
    assert info.value.path.name == "protocol.json"
    assert any("no questionnaire gad-7 1.0.0" in m for _, m in info.value.faults)

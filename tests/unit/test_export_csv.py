"""CSV cells of an export: formula text neutralised, numbers and exact NDJSON untouched."""

import csv
import io
import json

import pytest

from service.domain.export import (
    FORMULA_TRIGGERS,
    csv_line,
    csv_lines,
    fixed_columns,
    header,
    ndjson_lines,
)


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_text_that_begins_like_a_formula_gets_a_leading_quote(trigger: str) -> None:
    line = csv_lines([["PSAM-1", f"{trigger}1+1", -3, -2.5]], texts=[1])
    assert next(csv.reader(io.StringIO(line, newline=""))) == [
        "PSAM-1",
        f"'{trigger}1+1",
        "-3",
        "-2.5",
    ]


def test_negative_numbers_and_plain_text_are_written_as_they_are() -> None:
    line = csv_lines([["a - b = c", -7, None, True]], booleans=[3], texts=[0, 1])
    assert line == "a - b = c,-7,,1\r\n"


def test_a_header_or_codebook_line_neutralises_every_text_cell() -> None:
    assert csv_line(["=cmd", "-1", -1, None]) == "'=cmd,'-1,-1,\r\n"


def test_ndjson_carries_formula_text_exactly() -> None:
    names = ["t"]
    assert json.loads(ndjson_lines(names, [["=1+1"]])) == {"t": "=1+1"}


def test_pseudonymised_fixed_columns_carry_no_exact_time() -> None:
    assert header(fixed_columns("per-export", "day"), [])[-1] == "submitted_on"
    assert "submitted_at" not in header(fixed_columns("per-export", "none"), [])
    assert header(fixed_columns(), [])[-1] == "submitted_at"

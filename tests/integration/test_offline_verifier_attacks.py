"""Crafted export files against ``psam-verify``: each attack that once verified as OK or
crashed is refused with the right exit code (0 verified, 1 tampered, 2 malformed input), and
never with a traceback.

The exports are real ones, written by ``flask audit export`` from a log of 12 consent events
with checkpoints signed at 5 and 10 (and at 12 where the head must be covered); each attack
edits the file as someone with the file and no signing key could.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from service import create_app
from service.config import config_for_tests
from service.db import get_db
from service.domain.canonical import canonical_json
from service.domain.crypto import Keyring
from service.domain.ledger import entry_hash
from service.migrate import alembic_config
from service.services.keyring import write_keyring_file
from service.services.tokens import create_staff_token
from tests.conftest import INSTRUMENTS, fresh_database, valid_signature

PSAM_VERIFY = str(Path(sys.executable).parent / "psam-verify")


@dataclass(frozen=True)
class Exports:
    """Files an auditor could hold: exports before and after the head was signed."""

    folder: Path
    key: Path
    partly_signed: list[dict[str, Any]]  # checkpoints at 5 and 10 of 12 entries
    signed: list[dict[str, Any]]  # checkpoints at 5, 10 and 12
    access: list[dict[str, Any]]  # the access log, head signed
    api_checkpoints: dict[str, Any]  # GET /api/v1/audit/checkpoints after the head was signed


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exports]:
    folder = tmp_path_factory.mktemp("attacks")
    url = fresh_database("psam_verify_attacks", folder)
    command.upgrade(alembic_config(url), "head")
    settings = config_for_tests(url, str(folder / "instance"))
    write_keyring_file(Path(settings["PSAM_KEYRING"]), Keyring.generate(), create=True)
    app = create_app(settings)
    app.config["PSAM_CHECKPOINT_EVERY"] = 5
    from service.services.catalogue import sync_definitions
    from service.services.definitions import load_definitions

    with app.app_context(), get_db().sessionmaker() as session:
        sync_definitions(session, load_definitions(INSTRUMENTS))
        token = create_staff_token(session, ["researcher", "auditor"], "attacks")[1]
    staff = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    body = valid_signature(client, typed_name="Attack Test")
    for _ in range(6):
        made = client.post("/api/v1/participants", json={}, headers=staff).get_json()
        own = {"Authorization": f"Bearer {made['token']}"}
        assert client.post("/api/v1/me/consent", json=body, headers=own).status_code == 201
        scope = {"scope": "no-further-contact"}
        assert client.post("/api/v1/me/withdrawal", json=scope, headers=own).status_code == 201
    runner = app.test_cli_runner()
    key = folder / "key.pem"

    def export(name: str, log: str = "consent") -> list[dict[str, Any]]:
        out = folder / name
        args = ["audit", "export", "--out", str(out), "--log", log, "--public-key-out", str(key)]
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        return _records(out)

    partly_signed = export("partly.jsonl")
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    signed = export("signed.jsonl")
    access = export("access.jsonl", "access")
    api = client.get("/api/v1/audit/checkpoints?log=consent", headers=staff).get_json()
    yield Exports(folder, key, partly_signed, signed, access, api)
    app.extensions["psam_db"].engine.dispose()


def verify(exports: Exports, text: str, *options: str) -> subprocess.CompletedProcess[str]:
    path = exports.folder / "crafted.jsonl"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [PSAM_VERIFY, str(path), "--public-key", str(exports.key), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def lines(records: list[dict[str, Any]]) -> str:
    return "".join(canonical_json(record).decode("utf-8") + "\n" for record in records)


def entries_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == "entry"]


def relinked(entries: list[dict[str, Any]], edit_seq: int) -> list[dict[str, Any]]:
    """Edit one event, then recompute every hash after it, as a writer without the key can."""
    out: list[dict[str, Any]] = []
    previous = entries[0]["prev_hash"]
    for entry in entries:
        event = dict(entry["event"])
        if event["seq"] == edit_seq:
            event["type"] = "consent" if event["type"] == "withdrawal" else "withdrawal"
        new_hash = entry_hash(previous, event)
        out.append({**entry, "prev_hash": previous, "hash": new_hash, "event": event})
        previous = new_hash
    return out


def with_header(records: list[dict[str, Any]], **changes: Any) -> list[dict[str, Any]]:
    return [{**r, **changes} if r["kind"] == "header" else r for r in records]


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


def test_an_untouched_export_with_a_signed_head_verifies(exports: Exports) -> None:
    result = verify(exports, lines(exports.signed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 entries" in result.stdout


def test_a_consistent_rewrite_with_the_checkpoints_removed_is_tampered(exports: Exports) -> None:
    header, *rest = exports.signed
    header = {**header, "checkpoints": 0} if "checkpoints" in header else header
    result = verify(exports, lines([header, *relinked(entries_of(rest), 3)]))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "first bad seq 1" in result.stdout


def test_a_tail_cut_back_to_the_last_checkpoint_is_tampered_when_the_header_is_longer(
    exports: Exports,
) -> None:
    cut = [r for r in exports.partly_signed if r["kind"] != "entry" or r["seq"] <= 10]
    result = verify(exports, lines(cut))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "first bad seq 11" in result.stdout


def test_a_header_only_file_is_tampered(exports: Exports) -> None:
    result = verify(exports, lines(exports.signed[:1]))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "first bad seq 1" in result.stdout


def test_a_header_only_file_claiming_an_empty_log_is_not_verified(exports: Exports) -> None:
    header = with_header(exports.signed[:1], length=0, checkpoints=0)
    result = verify(exports, lines(header))
    assert result.returncode == 1, result.stdout + result.stderr


def test_a_rewrite_after_the_last_checkpoint_is_tampered(exports: Exports) -> None:
    header, *rest = exports.partly_signed
    entries = relinked(entries_of(rest), 11)
    checkpoints = [r for r in rest if r["kind"] == "checkpoint"]
    result = verify(exports, lines([header, *entries, *checkpoints]))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "first bad seq 11" in result.stdout


def test_duplicate_keys_inside_an_event_are_malformed_input(exports: Exports) -> None:
    text = lines(exports.signed)
    # A reader keeping the first "type" sees a withdrawal; the hash covers the second.
    crafted = text.replace('"event":{', '"event":{"type":"withdrawal",', 1)
    assert crafted != text
    result = verify(exports, crafted)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 2" in result.stderr
    assert_no_traceback(result)


def test_checkpoints_relabelled_to_the_other_log_are_tampered(exports: Exports) -> None:
    def relabel(record: dict[str, Any]) -> dict[str, Any]:
        if record["kind"] != "checkpoint":
            return record
        if "note" in record:
            return {**record, "note": record["note"].replace("consent-log", "access-log", 1)}
        return {**record, "log": "access"}

    result = verify(exports, lines([relabel(r) for r in exports.signed]))
    assert result.returncode == 1, result.stdout + result.stderr


def test_the_other_logs_checkpoints_in_place_of_this_logs_are_tampered(exports: Exports) -> None:
    consent = [r for r in exports.signed if r["kind"] != "checkpoint"]
    borrowed = [r for r in exports.access if r["kind"] == "checkpoint"]
    result = verify(exports, lines([*consent, *borrowed]))
    assert result.returncode == 1, result.stdout + result.stderr


def _second_entry_event_as(records: list[dict[str, Any]], raw: str) -> str:
    """The export with the event of its second line replaced by raw JSON text."""
    out = lines(records).splitlines(keepends=True)
    entry = json.loads(out[1])
    marker = canonical_json(entry["event"]).decode("utf-8")
    out[1] = out[1].replace(marker, raw, 1)
    return "".join(out)


HOSTILE = {
    "a number too large for a float": lambda r: lines(r).replace('"seq":1,', '"seq":1e309,', 1),
    "an event given as a list": lambda r: _second_entry_event_as(r, "[1, 2]"),
    "deep nesting": lambda r: _second_entry_event_as(r, "[" * 100_000 + "]" * 100_000),
    "a NaN": lambda r: lines(r).replace('"seq":1,', '"seq":NaN,', 1),
    "an integer of 5,000 digits": lambda r: lines(r).replace('"seq":1,', f'"seq":{"9" * 5000},', 1),
}


@pytest.mark.parametrize("label", list(HOSTILE))
def test_hostile_input_is_malformed_without_a_traceback(exports: Exports, label: str) -> None:
    crafted = HOSTILE[label](exports.signed)
    assert crafted != lines(exports.signed), label
    result = verify(exports, crafted)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 2" in result.stderr
    assert_no_traceback(result)


def test_bytes_that_are_not_utf_8_are_malformed_input(exports: Exports) -> None:
    path = exports.folder / "latin1.jsonl"
    text = lines(exports.signed).encode("utf-8")
    path.write_bytes(text.replace(b'"seq":1,', b'"seq":"\xff",', 1))
    result = subprocess.run(
        [PSAM_VERIFY, str(path), "--public-key", str(exports.key)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 2" in result.stderr
    assert_no_traceback(result)


def test_an_unsigned_tail_is_refused_unless_allowed_and_then_counted(exports: Exports) -> None:
    refused = verify(exports, lines(exports.partly_signed))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "first bad seq 11" in refused.stdout
    allowed = verify(exports, lines(exports.partly_signed), "--allow-unsigned-tail")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "2 entries at the head are not covered by a checkpoint" in allowed.stdout


def _cut_to_ten_with_a_consistent_header(exports: Exports) -> str:
    kept = [
        r
        for r in exports.signed
        if r["kind"] == "header"
        or (r["kind"] == "entry" and r["seq"] <= 10)
        or (r["kind"] == "checkpoint" and "\n12\n" not in r["note"])
    ]
    return lines(with_header(kept, length=10, checkpoints=2))


def test_a_cut_back_log_with_a_consistent_header_fails_against_kept_api_checkpoints(
    exports: Exports,
) -> None:
    crafted = _cut_to_ten_with_a_consistent_header(exports)
    # Without anything kept from earlier, a log cut back to a checkpoint cannot be told apart.
    assert verify(exports, crafted).returncode == 0
    kept = exports.folder / "kept.json"
    kept.write_text(json.dumps(exports.api_checkpoints), encoding="utf-8")
    result = verify(exports, crafted, "--trusted-checkpoints", str(kept))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "first bad seq 11" in result.stdout


def test_an_earlier_export_serves_as_kept_checkpoints_for_a_log_that_extends_it(
    exports: Exports,
) -> None:
    earlier = exports.folder / "partly.jsonl"
    result = verify(exports, lines(exports.signed), "--trusted-checkpoints", str(earlier))
    assert result.returncode == 0, result.stdout + result.stderr


def test_kept_checkpoints_of_the_other_log_are_unusable_input(exports: Exports) -> None:
    result = verify(
        exports,
        lines(exports.signed),
        "--trusted-checkpoints",
        str(exports.folder / "access.jsonl"),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "access log" in result.stderr

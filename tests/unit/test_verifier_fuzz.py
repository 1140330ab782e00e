"""Fuzzing psam-verify: arbitrary files and mutated valid exports.

Properties: the verifier always answers with an exit code in {0, 1, 2} and never raises; an
untouched export (also with blank lines or whitespace around its lines, which carry no
meaning) verifies as 0; any other change (a byte changed in an entry or checkpoint line, a
line dropped, duplicated or moved, a header field changed, the file cut short) never does.
Arbitrary files never verify.

The mutation and arbitrary-file properties run FUZZ_EXAMPLES examples each (500 by default;
the soak runs 10,000 with ``PSAM_FUZZ_EXAMPLES=10000``, see the README), the other two a
tenth of that.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.ledger import Entry, link, public_key_id, sign_checkpoint
from service.domain.log_export import (
    canonical_line,
    checkpoint_record,
    entry_record,
    header_record,
)
from service.domain.signed_note import sign_body
from service.offline_verify import main

FUZZ_EXAMPLES = int(os.environ.get("PSAM_FUZZ_EXAMPLES") or 500)
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The properties that hold by construction get a tenth of the examples.
FUZZ_LIGHT = settings(FUZZ, max_examples=max(50, FUZZ_EXAMPLES // 10))
SERVICE_KEY = Ed25519PrivateKey.generate()
WITNESS_KEY = Ed25519PrivateKey.generate()
FOLDER = Path(tempfile.mkdtemp(prefix="psam-fuzz-"))


def _pem_file(name: str, key: Ed25519PrivateKey) -> str:
    path = FOLDER / name
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(path)


SERVICE_PEM = _pem_file("service.pem", SERVICE_KEY)
WITNESS_PEM = _pem_file("witness.pem", WITNESS_KEY)
OPTIONS = ["--public-key", SERVICE_PEM, "--witness", WITNESS_PEM, "--min-witnesses", "1"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=12)
)
event_extras = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k not in {"log", "seq"}),
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6),
    max_size=4,
)


@st.composite
def valid_exports(draw: st.DrawFn) -> list[str]:
    """The lines of a valid export: 1-8 entries, checkpoints at some lengths and always at
    the head, which one witness co-signs."""
    log = draw(st.sampled_from(["consent", "access"]))
    length = draw(st.integers(1, 8))
    entries: list[Entry] = []
    for seq in range(1, length + 1):
        event = {**draw(event_extras), "type": "consent", "log": log, "seq": seq}
        entries.append(link(entries[-1] if entries else None, event))
    signed_at = sorted(draw(st.sets(st.integers(1, length), max_size=3)) | {length})
    checkpoints = []
    for size in signed_at:
        checkpoint = sign_checkpoint(
            SERVICE_KEY, log, size, entries[size - 1].hash, "2026-11-26T14:00:00.000000Z"
        )
        if size == length:
            witness = sign_body(WITNESS_KEY, "witness.example", checkpoint.body())
            checkpoint = type(checkpoint)(
                *(checkpoint.log, checkpoint.length, checkpoint.head_hash, checkpoint.time),
                (*checkpoint.signatures, witness),
            )
        checkpoints.append(checkpoint)
    key_id = public_key_id(SERVICE_KEY.public_key())
    header = header_record(log, length, len(checkpoints), key_id, "2026-11-26T15:00:00.000000Z")
    return [
        canonical_line(header),
        *(canonical_line(entry_record(e)) for e in entries),
        *(canonical_line(checkpoint_record(c)) for c in checkpoints),
    ]


def verify_bytes(data: bytes, *options: str) -> int:
    """Run psam-verify in this process on a file holding ``data``; any exception fails."""
    with tempfile.NamedTemporaryFile(dir=FOLDER, suffix=".jsonl", delete=False) as handle:
        handle.write(data)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([handle.name, *(options or OPTIONS)])
    finally:
        os.unlink(handle.name)
    assert code in {0, 1, 2}, (code, out.getvalue(), err.getvalue())
    return code


def _joined(lines: list[str]) -> bytes:
    return "".join(lines).encode("utf-8")


@FUZZ_LIGHT
@given(lines=valid_exports())
def test_an_untouched_export_always_verifies(lines: list[str]) -> None:
    assert verify_bytes(_joined(lines)) == 0


@FUZZ_LIGHT
@given(lines=valid_exports(), data=st.data())
def test_blank_lines_and_whitespace_around_lines_change_nothing(
    lines: list[str], data: st.DataObject
) -> None:
    padding = st.text(alphabet=" \t\r", max_size=3)
    padded = []
    for line in lines:
        if data.draw(st.booleans()):
            padded.append(data.draw(padding) + "\n")
        padded.append(data.draw(padding) + line[:-1] + data.draw(padding) + "\n")
    assert verify_bytes("".join(padded).encode("utf-8")) == 0


def _change_byte(lines: list[str], data: st.DataObject) -> bytes:
    # The header is left alone here: its exported_at is not covered by anything, so changing
    # it is a true no-op. Header fields that matter are mutated by _change_header.
    head = lines[0].encode("utf-8")
    rest = _joined(lines[1:])
    at = data.draw(st.integers(0, len(rest) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != rest[at]))
    return head + rest[:at] + bytes([new]) + rest[at + 1 :]


def _drop_line(lines: list[str], data: st.DataObject) -> bytes:
    at = data.draw(st.integers(0, len(lines) - 1))
    return _joined(lines[:at] + lines[at + 1 :])


def _duplicate_line(lines: list[str], data: st.DataObject) -> bytes:
    at = data.draw(st.integers(0, len(lines) - 1))
    to = data.draw(st.integers(0, len(lines)))
    copy = list(lines)
    copy.insert(to, lines[at])
    return _joined(copy)


def _move_line(lines: list[str], data: st.DataObject) -> bytes:
    at = data.draw(st.integers(0, len(lines) - 1))
    rest = lines[:at] + lines[at + 1 :]
    to = data.draw(st.integers(0, len(rest)).filter(lambda n: n != at))
    return _joined([*rest[:to], lines[at], *rest[to:]])


def _change_header(lines: list[str], data: st.DataObject) -> bytes:
    header = json.loads(lines[0])
    field = data.draw(st.sampled_from(["log", "length", "checkpoints", "format", "public_key_id"]))
    value = {
        "log": st.sampled_from(["consent", "access", "other"]),
        "length": st.integers(0, 20),
        "checkpoints": st.integers(0, 20),
        "format": st.sampled_from(["psam-ledger-export/1", "psam-ledger-export/3"]),
        "public_key_id": st.text(max_size=30),
    }[field]
    header[field] = data.draw(value.filter(lambda v: v != header[field]))
    return canonical_line(header).encode("utf-8") + _joined(lines[1:])


def _cut_short(lines: list[str], data: st.DataObject) -> bytes:
    whole = _joined(lines)
    # Cutting only the final newline leaves every line whole: that is not a change.
    return whole[: data.draw(st.integers(0, len(whole) - 2))]


MUTATIONS: list[Callable[[list[str], st.DataObject], bytes]] = [
    _change_byte,
    _drop_line,
    _duplicate_line,
    _move_line,
    _change_header,
    _cut_short,
]


@FUZZ
@given(lines=valid_exports(), data=st.data())
def test_a_mutated_export_never_verifies(lines: list[str], data: st.DataObject) -> None:
    mutate = data.draw(st.sampled_from(MUTATIONS))
    mutated = mutate(lines, data)
    if mutated == _joined(lines):  # e.g. two equal lines swapped: nothing changed
        return
    assert verify_bytes(mutated) in {1, 2}, mutate.__name__


json_values = st.recursive(
    scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
record_like = st.fixed_dictionaries(
    {"kind": st.sampled_from(["header", "entry", "checkpoint", "other"])},
    optional={
        "seq": json_values,
        "log": json_values,
        "length": json_values,
        "checkpoints": json_values,
        "event": json_values,
        "note": st.text(max_size=200) | json_values,
        "hash": json_values,
        "prev_hash": json_values,
        "format": st.just("psam-ledger-export/2"),
        "public_key_id": st.just(public_key_id(SERVICE_KEY.public_key())),
        "exported_at": st.text(max_size=5),
    },
)
arbitrary_files = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.text(max_size=80), max_size=10).map(
        lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")
    ),
    st.lists(json_values, max_size=6).map(
        lambda vs: "\n".join(json.dumps(v) for v in vs).encode("utf-8", "surrogatepass")
    ),
    st.lists(record_like, max_size=6).map(
        lambda rs: "\n".join(
            json.dumps(r, sort_keys=True, separators=(",", ":")) for r in rs
        ).encode("utf-8", "surrogatepass")
    ),
)


@FUZZ
@given(data=arbitrary_files)
def test_an_arbitrary_file_never_verifies_and_never_crashes(data: bytes) -> None:
    assert verify_bytes(data) in {1, 2}
    # With the tail allowed unsigned, a header of an empty log is a (trivially) valid log.
    verify_bytes(data, "--public-key", SERVICE_PEM, "--allow-unsigned-tail")

"""Hash-chained, append-only logs (the consent log and the access log) and their checkpoints.

Entry ``n`` carries ``seq = n``, the previous entry's hash, and

    hash = hex(SHA-256(prev_hash as 64 ASCII hex characters || RFC 8785 JSON of the event))

with ``prev_hash`` of entry 1 being 64 zeros. The event itself names its log and its seq, so
an entry cannot be moved to another position or log without breaking its hash. A checkpoint
is ``{log, length, head_hash, time}`` signed with Ed25519; an auditor who keeps checkpoints can
tell a consistently rebuilt chain from the one that was signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.domain.canonical import canonical_json

GENESIS_HASH = "0" * 64
LOGS = ("consent", "access")


@dataclass(frozen=True)
class Entry:
    seq: int
    prev_hash: str
    hash: str
    event: Mapping[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    log: str
    length: int
    head_hash: str
    time: str
    signature: str  # hex

    def statement(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "length": self.length,
            "head_hash": self.head_hash,
            "time": self.time,
        }


def entry_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """The hash that links an event to the entry before it."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(dict(event))).hexdigest()


def link(previous: Entry | None, event: Mapping[str, Any]) -> Entry:
    """The next entry of a chain; the event must already name its log and seq."""
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    if event.get("seq") != seq:
        raise ValueError(f"event says seq {event.get('seq')}, the chain is at {seq}")
    return Entry(seq, prev_hash, entry_hash(prev_hash, event), event)


def sign_checkpoint(
    key: Ed25519PrivateKey, log: str, length: int, head_hash: str, time: str
) -> Checkpoint:
    """Sign the statement that a log had ``length`` entries ending in ``head_hash``."""
    unsigned = Checkpoint(log, length, head_hash, time, "")
    signature = key.sign(canonical_json(unsigned.statement())).hex()
    return Checkpoint(log, length, head_hash, time, signature)


def checkpoint_signature_ok(public_key: Ed25519PublicKey, checkpoint: Checkpoint) -> bool:
    try:
        public_key.verify(
            bytes.fromhex(checkpoint.signature), canonical_json(checkpoint.statement())
        )
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class Verification:
    """What checking a log found: ``first_bad_seq`` names the first entry not to trust."""

    log: str
    ok: bool = True
    length: int = 0
    head_hash: str = GENESIS_HASH
    first_bad_seq: int | None = None
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, seq: int | None, problem: str) -> None:
        self.ok = False
        if seq is not None and self.first_bad_seq is None:
            self.first_bad_seq = seq
        self.problems.append(f"seq {seq}: {problem}" if seq is not None else problem)


def verify_log(
    log: str,
    entries: Iterable[Entry],
    checkpoints: Sequence[Checkpoint] = (),
    public_key: Ed25519PublicKey | None = None,
) -> Verification:
    """Recompute every link and hash, then hold the chain to every signed checkpoint.

    Entries must come in the order stored (by seq). A gap, a duplicate, a reordering, an
    edited field, an inserted or deleted entry all show up as the first seq whose link or
    hash does not hold. A chain rebuilt consistently after an edit passes the link checks
    but not the checkpoints signed before the edit; a chain cut short below a checkpoint
    fails that checkpoint too.
    """
    result = Verification(log)
    hashes: dict[int, str] = {0: GENESIS_HASH}
    previous_hash = GENESIS_HASH
    for expected, entry in enumerate(entries, start=1):
        if result.first_bad_seq is None:
            if entry.seq != expected and expected >= 2 and entry.prev_hash == hashes[expected - 2]:
                # This entry links to the one two places back: the one between was slipped in.
                result.fail(expected - 1, "an entry was inserted here")
            elif entry.seq != expected:
                result.fail(expected, f"found seq {entry.seq} where {expected} belongs")
            elif entry.prev_hash != previous_hash:
                result.fail(expected, "prev_hash does not match the entry before it")
            elif entry.event.get("seq") != entry.seq or entry.event.get("log") != log:
                result.fail(expected, "the event names another position or log")
            elif entry_hash(entry.prev_hash, entry.event) != entry.hash:
                result.fail(expected, "the hash does not match the event")
        hashes[expected] = entry.hash
        previous_hash = entry.hash
        result.length = expected
        result.head_hash = entry.hash
    trusted_up_to = 0  # entries covered by a checkpoint that still matches
    for checkpoint in sorted(checkpoints, key=lambda c: c.length):
        if checkpoint.log != log:
            continue
        result.checkpoints_checked += 1
        if public_key is None or not checkpoint_signature_ok(public_key, checkpoint):
            result.fail(None, f"checkpoint at length {checkpoint.length} is not validly signed")
        elif checkpoint.length > result.length:
            result.fail(result.length + 1, f"the log ends before checkpoint {checkpoint.length}")
        elif hashes[checkpoint.length] != checkpoint.head_hash:
            # The links hold but the chain is not the one signed: it was rebuilt after an
            # edit somewhere after the last checkpoint that still matches.
            result.fail(trusted_up_to + 1, f"checkpoint {checkpoint.length} signed another chain")
        else:
            trusted_up_to = checkpoint.length
    return result

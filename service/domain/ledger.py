"""Hash-chained, append-only logs (the consent log and the access log) and their checkpoints.

Entry ``n`` carries ``seq = n``, the previous entry's hash, and

    hash = hex(SHA-256(prev_hash as 64 ASCII hex characters || RFC 8785 JSON of the event))

with ``prev_hash`` of entry 1 being 64 zeros. The event itself names its log and its seq, so
an entry cannot be moved to another position or log without breaking its hash. A checkpoint
is a signed note of the log's origin, length, head hash and time (``signed_note``), signed
with Ed25519 by the service and co-signed by witnesses; an auditor who keeps checkpoints can
tell a consistently rebuilt chain from the one that was signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.domain.canonical import canonical_json
from service.domain.signed_note import (
    CheckpointBody,
    NoteSignature,
    key_hash,
    origin,
    render,
    sign_body,
    signature_holds,
)

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
    """A signed note stating that a log had ``length`` entries ending in ``head_hash``.

    ``signatures`` holds the service's signature line and any witnesses' co-signatures.
    """

    log: str
    length: int
    head_hash: str
    time: str
    signatures: tuple[NoteSignature, ...] = ()

    def body(self) -> CheckpointBody:
        return CheckpointBody(self.log, self.length, self.head_hash, self.time)

    def note(self) -> str:
        """The signed note, as C2SP's signed-note format writes it."""
        return render(self.body(), list(self.signatures))


def public_key_id(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint naming the checkpoint key."""
    return "ed25519:" + hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:16]


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
    """Sign the note that a log had ``length`` entries ending in ``head_hash``."""
    body = CheckpointBody(log, length, head_hash, time)
    return Checkpoint(log, length, head_hash, time, (sign_body(key, origin(log), body),))


def service_signature(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> NoteSignature:
    """The signature line the service's key would write: its name is the log's origin."""
    name = origin(checkpoint.log)
    for sig in checkpoint.signatures:
        if sig.name == name and sig.key_hash == key_hash(name, public_key):
            return sig
    raise LookupError("no signature line of the service's key")


def checkpoint_signature_ok(public_key: Ed25519PublicKey, checkpoint: Checkpoint) -> bool:
    """True when the checkpoint carries a valid signature of the service's key."""
    try:
        sig = service_signature(checkpoint, public_key)
    except LookupError:
        return False
    return signature_holds(public_key, checkpoint.body(), sig)


def witness_count(
    checkpoint: Checkpoint, witnesses: Sequence[Ed25519PublicKey]
) -> tuple[int, list[str]]:
    """How many distinct given witness keys validly co-signed; and the lines that claim to be
    from a given key but do not verify."""
    valid: set[bytes] = set()
    bad: list[str] = []
    body = checkpoint.body()
    for sig in checkpoint.signatures:
        for witness in witnesses:
            if sig.key_hash != key_hash(sig.name, witness):
                continue
            if signature_holds(witness, body, sig):
                valid.add(witness.public_bytes_raw())
            else:
                bad.append(sig.name)
    return len(valid), bad


@dataclass
class Verification:
    """What checking a log found: ``first_bad_seq`` names the first entry not to trust.

    ``unsigned_entries`` counts the entries after the last checkpoint that holds (and carries
    the witnesses asked for): nothing but the file vouches for them.
    """

    log: str
    ok: bool = True
    length: int = 0
    head_hash: str = GENESIS_HASH
    first_bad_seq: int | None = None
    checkpoints_checked: int = 0
    unsigned_entries: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, seq: int, problem: str) -> None:
        self.ok = False
        if self.first_bad_seq is None:
            self.first_bad_seq = seq
        self.problems.append(f"seq {seq}: {problem}")


@dataclass(frozen=True)
class Requirements:
    """What an auditor asks of a log beyond its links: see ``verify_log``."""

    declared_length: int | None = None
    declared_checkpoints: int | None = None
    signed_head: bool = False
    trusted: Sequence[Checkpoint] = ()
    witnesses: Sequence[Ed25519PublicKey] = ()
    min_witnesses: int = 0


def verify_log(
    log: str,
    entries: Iterable[Entry],
    checkpoints: Sequence[Checkpoint] = (),
    public_key: Ed25519PublicKey | None = None,
    requirements: Requirements | None = None,
) -> Verification:
    """Recompute every link and hash, then hold the chain to every signed checkpoint.

    Entries must come in the order stored (by seq), checkpoints by increasing length. A gap,
    a duplicate, a reordering, an edited field, an inserted or deleted entry all show up as
    the first seq whose link or hash does not hold. A chain rebuilt consistently after an
    edit passes the link checks but not the checkpoints signed before the edit; a chain cut
    short below a checkpoint fails that checkpoint too. ``requirements`` adds what only an
    auditor can bring: the length the export declares, checkpoints kept from earlier
    (``trusted``, already checked as signed by the service), a signed head, and co-signatures
    of at least ``min_witnesses`` of the given witness keys on the checkpoint that covers it.
    """
    requirements = requirements or Requirements()
    result = Verification(log)
    hashes: list[str] = [GENESIS_HASH]
    for expected, entry in enumerate(entries, start=1):
        if result.first_bad_seq is None:
            if entry.seq != expected and expected >= 2 and entry.prev_hash == hashes[expected - 2]:
                # This entry links to the one two places back: the one between was slipped in.
                result.fail(expected - 1, "an entry was inserted here")
            elif entry.seq != expected:
                result.fail(expected, f"found seq {entry.seq} where {expected} belongs")
            elif entry.prev_hash != hashes[-1]:
                result.fail(expected, "prev_hash does not match the entry before it")
            elif entry.event.get("seq") != entry.seq or entry.event.get("log") != log:
                result.fail(expected, "the event names another position or log")
            elif entry_hash(entry.prev_hash, entry.event) != entry.hash:
                result.fail(expected, "the hash does not match the event")
        hashes.append(entry.hash)
        result.length = expected
        result.head_hash = entry.hash
    length = result.length
    declared = requirements.declared_length
    if declared is not None and declared != length:
        result.fail(min(declared, length) + 1, f"the header gives {declared} entries, not {length}")

    matched = [0]  # lengths of checkpoints the chain still matches
    covered = 0  # the longest of them that carries the witnesses asked for
    previous_length = 0
    for checkpoint in checkpoints:
        result.checkpoints_checked += 1
        size = checkpoint.length
        below = max(matched) + 1
        if size <= previous_length:
            result.fail(below, f"checkpoint {size} is out of order or repeated")
            continue
        previous_length = size
        if checkpoint.log != log:
            result.fail(below, f"checkpoint {size} belongs to the {checkpoint.log} log")
        elif public_key is None or not checkpoint_signature_ok(public_key, checkpoint):
            result.fail(below, f"checkpoint {size} is not validly signed")
        elif size > length:
            result.fail(length + 1, f"the log ends before checkpoint {size}")
        elif hashes[size] != checkpoint.head_hash:
            # The links hold but the chain is not the one signed: it was rebuilt after an
            # edit somewhere after the last checkpoint that still matches.
            result.fail(below, f"checkpoint {size} signed another chain")
        else:
            matched.append(size)
            count, bad = witness_count(checkpoint, requirements.witnesses)
            for name in bad:
                result.fail(below, f"the co-signature of {name} on checkpoint {size} is invalid")
            if not bad and count >= requirements.min_witnesses:
                covered = size
    declared_checkpoints = requirements.declared_checkpoints
    if declared_checkpoints is not None and declared_checkpoints != len(checkpoints):
        result.fail(
            max(matched) + 1,
            f"the header gives {declared_checkpoints} checkpoints, not {len(checkpoints)}",
        )
    for kept in sorted(requirements.trusted, key=lambda c: c.length):
        below = max((m for m in matched if m < kept.length), default=0) + 1
        if kept.log != log:
            result.fail(below, f"the kept checkpoint {kept.length} belongs to the {kept.log} log")
        elif kept.length > length:
            result.fail(length + 1, f"the log ends before the kept checkpoint {kept.length}")
        elif hashes[kept.length] != kept.head_hash:
            result.fail(below, f"the log does not extend the kept checkpoint {kept.length}")
    result.unsigned_entries = length - covered
    if requirements.signed_head and length == 0:
        result.fail(1, "the log holds no entries: nothing is signed")
    elif requirements.signed_head and covered < length:
        what = "signed" if requirements.min_witnesses == 0 else "signed and witnessed"
        result.fail(covered + 1, f"{length - covered} entries at the head are not {what}")
    return result

"""``psam-verify``: check an exported log against the public key, trusting nothing else.

    psam-verify consent-log.jsonl --public-key checkpoint-key.pem
        [--trusted-checkpoints KEPT.json] [--witness W.pem --min-witnesses K]
        [--allow-unsigned-tail]

Exit codes: 0 verified; 1 tampered (naming the first bad seq); 2 the input cannot be read
(naming the line), the options are wrong, or a key or kept checkpoint is unusable. The
design, the note format and the threat model are in docs/audit-log.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from service.domain.ledger import (
    Checkpoint,
    Requirements,
    Verification,
    checkpoint_signature_ok,
    public_key_id,
    verify_log,
)
from service.domain.log_export import MalformedExport, read_export, read_kept_checkpoints

VERIFIED, TAMPERED, MALFORMED = 0, 1, 2


class UnusableInput(ValueError):
    """A key or a kept checkpoint given on the command line cannot be used."""


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(path.read_bytes())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UnusableInput(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UnusableInput(f"{path}: not an Ed25519 public key")
    return key


def load_kept(path: Path, log: str, key: Ed25519PublicKey) -> list[Checkpoint]:
    """Checkpoints kept earlier: each must be of this log and signed by the service's key."""
    kept = read_kept_checkpoints(path.read_bytes())
    for checkpoint in kept:
        if checkpoint.log != log:
            raise UnusableInput(
                f"{path}: checkpoint {checkpoint.length} is of the {checkpoint.log} log"
            )
        if not checkpoint_signature_ok(key, checkpoint):
            raise UnusableInput(
                f"{path}: checkpoint {checkpoint.length} is not signed by the key given"
            )
    return kept


def verify_export(args: argparse.Namespace) -> Verification:
    key = load_public_key(args.public_key)
    witnesses = {w.public_bytes_raw(): w for w in map(load_public_key, args.witness)}
    witnesses.pop(key.public_bytes_raw(), None)  # the service cannot witness itself
    minimum = args.min_witnesses if args.min_witnesses is not None else min(1, len(witnesses))
    if minimum < 0 or minimum > len(witnesses):
        raise UnusableInput(f"--min-witnesses {minimum} needs as many distinct --witness keys")
    with args.export.open("rb") as handle:
        export = read_export(handle)
    if export.public_key_id != public_key_id(key):
        given = public_key_id(key)
        raise UnusableInput(f"the export names the key {export.public_key_id}, not {given}")
    kept = [c for path in args.trusted_checkpoints for c in load_kept(path, export.log, key)]
    requirements = Requirements(
        declared_length=export.declared_length,
        declared_checkpoints=export.declared_checkpoints,
        signed_head=not args.allow_unsigned_tail,
        trusted=kept,
        witnesses=list(witnesses.values()),
        min_witnesses=minimum,
    )
    return verify_log(export.log, export.entries, export.checkpoints, key, requirements)


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="psam-verify", description=__doc__.split("\n")[0])
    made.add_argument("export", type=Path, help="a file written by 'flask audit export'")
    made.add_argument("--public-key", type=Path, required=True, help="the service's PEM key")
    made.add_argument(
        "--trusted-checkpoints",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="checkpoints kept earlier (the JSON of GET /api/v1/audit/checkpoints, or an "
        "export's lines); the log must extend every one. Repeatable.",
    )
    made.add_argument(
        "--witness",
        type=Path,
        action="append",
        default=[],
        metavar="KEY.pem",
        help="a witness's Ed25519 public key (PEM). Repeatable.",
    )
    made.add_argument(
        "--min-witnesses",
        type=int,
        metavar="K",
        help="co-signatures of distinct given witnesses required on the checkpoint covering "
        "the head (default 1 when --witness is given)",
    )
    made.add_argument(
        "--allow-unsigned-tail",
        action="store_true",
        help="accept entries after the last checkpoint, and say how many there are",
    )
    return made


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = verify_export(args)
    except MalformedExport as exc:
        print(f"psam-verify: malformed input: {args.export}: {exc}", file=sys.stderr)
        return MALFORMED
    except (OSError, UnusableInput) as exc:
        print(f"psam-verify: cannot verify: {exc}", file=sys.stderr)
        return MALFORMED
    print(
        f"log {result.log}: {result.length} entries, head {result.head_hash}, "
        f"{result.checkpoints_checked} checkpoints checked"
    )
    if result.ok and result.unsigned_entries:
        print(f"{result.unsigned_entries} entries at the head are not covered by a checkpoint")
    if result.ok:
        print("OK: every hash, link and checkpoint signature holds")
        return VERIFIED
    print(f"FAILED: first bad seq {result.first_bad_seq}")
    for problem in result.problems:
        print(f"  {problem}")
    return TAMPERED


if __name__ == "__main__":
    sys.exit(main())

"""``psam-verify``: check an exported log against the public key, trusting nothing else.

    psam-verify consent-log.jsonl --public-key checkpoint-key.pem

It recomputes every hash and link, checks every checkpoint's Ed25519 signature and that each
checkpoint is a prefix of the log, and exits 0 when all hold, 1 naming the first bad seq
when something does not, 2 when the files cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from service.domain.ledger import Checkpoint, Entry, Verification, verify_log


class ExportError(ValueError):
    """The export file cannot be read as an export."""


def read_export(path: Path) -> tuple[str, list[Entry], list[Checkpoint]]:
    """The log name, entries (in file order) and checkpoints of an export file."""
    log: str | None = None
    entries: list[Entry] = []
    found: list[Checkpoint] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                kind = record["kind"]
                if kind == "header":
                    log = str(record["log"])
                elif kind == "entry":
                    entries.append(
                        Entry(
                            int(record["seq"]), record["prev_hash"], record["hash"], record["event"]
                        )
                    )
                elif kind == "checkpoint":
                    found.append(
                        Checkpoint(
                            record["log"],
                            int(record["length"]),
                            record["head_hash"],
                            record["time"],
                            record["signature"],
                        )
                    )
                else:
                    raise ExportError(f"line {number}: unknown record kind {kind!r}")
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, ExportError):
                    raise
                raise ExportError(f"line {number}: not an export record ({exc})") from None
    if log is None:
        raise ExportError("no header line: not an export of this service")
    return log, entries, found


def verify_export(path: Path, public_key_pem: bytes) -> Verification:
    key = load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ExportError("the public key is not an Ed25519 key")
    log, entries, found = read_export(path)
    return verify_log(log, entries, found, key)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="psam-verify", description=__doc__.split("\n")[0])
    parser.add_argument("export", type=Path, help="a file written by 'flask audit export'")
    parser.add_argument("--public-key", type=Path, required=True, help="the PEM public key")
    args = parser.parse_args(argv)
    try:
        result = verify_export(args.export, args.public_key.read_bytes())
    except (OSError, ExportError, ValueError) as exc:
        print(f"psam-verify: cannot verify: {exc}", file=sys.stderr)
        return 2
    print(
        f"log {result.log}: {result.length} entries, head {result.head_hash}, "
        f"{result.checkpoints_checked} checkpoints checked"
    )
    if result.ok:
        print("OK: every hash, link and checkpoint signature holds")
        return 0
    print(f"FAILED: first bad seq {result.first_bad_seq}")
    for problem in result.problems:
        print(f"  {problem}")
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""Microseconds per field encrypt and decrypt, and per data key wrap, unwrap and re-wrap.

Run: .venv/bin/python bench/bench_crypto.py [runs]   (prints figures; never pass/fail)
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from service.domain.crypto import (
    FieldContext,
    Keyring,
    decrypt_field,
    encrypt_field,
    new_data_key,
)

STUDY_ID = "PSAM-7K3M9QXR-4"
CONTEXT = FieldContext("responses", "answers", "0b4f0d8e-8a9c-4a53-9d2c-6a8f6ad3e4b1", STUDY_ID)
ANSWERS = {f"pcl5_{i}": i % 5 for i in range(1, 21)}  # a whole PCL-5 response as one field


def measure(label: str, runs: int, action: Callable[[], object]) -> None:
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(runs):
            action()
        rounds.append((time.perf_counter() - start) / runs * 1e6)
    print(f"{label:<44} {statistics.median(rounds):8.2f} us  (median of 5 rounds x {runs} runs)")


def main(runs: int | None = None) -> None:
    runs = runs or (int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
    keyring = Keyring.generate()
    rotated = keyring.with_new_primary()
    dek = new_data_key()
    small = encrypt_field(dek, 3, CONTEXT)
    large = encrypt_field(dek, ANSWERS, CONTEXT)
    wrapped = keyring.wrap_data_key(dek, STUDY_ID)

    measure("encrypt field (one integer)", runs, lambda: encrypt_field(dek, 3, CONTEXT))
    measure("decrypt field (one integer)", runs, lambda: decrypt_field(dek, small, CONTEXT))
    measure(
        "encrypt field (20 answers as one JSON)", runs, lambda: encrypt_field(dek, ANSWERS, CONTEXT)
    )
    measure(
        "decrypt field (20 answers as one JSON)", runs, lambda: decrypt_field(dek, large, CONTEXT)
    )
    measure("wrap data key", runs, lambda: keyring.wrap_data_key(dek, STUDY_ID))
    measure("unwrap data key", runs, lambda: keyring.unwrap_data_key(wrapped, STUDY_ID))
    measure(
        "re-wrap data key (unwrap old KEK, wrap new)",
        runs,
        lambda: rotated.wrap_data_key(rotated.unwrap_data_key(wrapped, STUDY_ID), STUDY_ID),
    )


if __name__ == "__main__":
    main()

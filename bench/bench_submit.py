"""Full submits (PHQ-9 and GAD-7) through the real service against a bare INSERT app, in one run.

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench \\
     .venv/bin/python -m bench.bench_submit [--seconds 10] [--rounds 3] [--connections 32]
     [--existing N]
Prints one JSON line. Never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench import baseline_table
from bench.fixtures import Cohort, fresh
from bench.load import LoadResult, Request, Server, run_load
from service.domain.crypto import Keyring
from service.services.keyring import write_keyring_file

PHQ9 = {f"phq9_{i}": 1 for i in range(1, 10)} | {"phq9_10": 1}
GAD7 = {f"gad7_{i}": 1 for i in range(1, 8)} | {"gad7_8": 1}


def submits(people: list[tuple[str, str]]) -> Iterator[Request]:
    for instrument, answers in (("phq-9", PHQ9), ("gad-7", GAD7)):
        for _sid, token in people:
            body = {
                "instrument": instrument,
                "version": "1.0.0",
                "timepoint": "baseline",
                "answers": answers,
                "submit": True,
            }
            yield Request(
                "POST", "/api/v1/me/responses", {"Authorization": f"Bearer {token}"}, body
            )


def inserts() -> Iterator[Request]:
    body = {
        "instrument": "phq-9",
        "version": "1.0.0",
        "timepoint": "baseline",
        "answers": PHQ9,
        "submit": True,
    }
    while True:
        yield Request("POST", "/insert", {}, body)


def main(argv: list[str] | None = None) -> dict[str, float | int]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10, help="of load, for each server")
    parser.add_argument("--rounds", type=int, default=3, help="turns each server takes")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--participants", type=int, default=4000)
    parser.add_argument("--existing", type=int, default=0, help="responses stored beforehand")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench")
    with tempfile.TemporaryDirectory() as folder:
        keyring = Keyring.generate()
        keyring_path = Path(folder) / "keyring.json"
        write_keyring_file(keyring_path, keyring, create=True)
        engine = fresh(url)
        cohort = Cohort(engine, keyring)
        if args.existing:
            cohort.add((args.existing + 2) // 3, responses_each=3)
        people = cohort.add(args.participants)
        baseline_table.metadata.create_all(engine)
        engine.dispose()
        env = {
            "DATABASE_URL": url,
            "PSAM_KEYRING": str(keyring_path),
            "PSAM_INSTANCE_DIR": folder,
            "PSAM_LOG_LEVEL": "WARNING",
        }
        # Both servers stay up and take turns, a few seconds each, so that a slow spell of
        # the shared machine falls on both rather than on one.
        submit, baseline = LoadResult(0, 0, 0.0, []), LoadResult(0, 0, 0.0, [])
        pending, turn = submits(people), args.seconds / args.rounds
        with Server("wsgi:app", 8771, env), Server("bench.baseline_app:app", 8772, env):
            for _ in range(args.rounds):
                submit.add(
                    run_load(8771, pending, connections=args.connections, seconds=turn, ok={201})
                )
                baseline.add(
                    run_load(8772, inserts(), connections=args.connections, seconds=turn, ok={201})
                )
    figures = {
        "submit_rps": round(submit.rps, 1),
        "baseline_rps": round(baseline.rps, 1),
        "ratio": round(submit.rps / baseline.rps, 3) if baseline.rps else 0.0,
        "p50_ms": round(submit.p50, 1),
        "p99_ms": round(submit.percentile(0.99), 1),
        "errors": submit.errors,
        "existing_rows": args.existing,
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()

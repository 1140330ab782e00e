"""The FHIR NDJSON export (QuestionnaireResponses and their score Observations) of N submitted
PHQ-9 responses, through a real gunicorn on PostgreSQL: lines per second and the worker's
peak memory, at two sizes, so that memory staying flat as the export grows can be read off.

Run: .venv/bin/python -m bench.bench_fhir_export [postgresql-url] [rows ...]
(default 10,000 and 100,000 rows; the database is emptied). Never pass/fail.
"""

from __future__ import annotations

import os
import sys

from bench.bench_export import DEFAULT_URL
from bench.bench_export import main as export_bench

FHIR_PATH = "/fhir/r4/QuestionnaireResponse/$export?instrument=phq-9"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    url = argv[0] if argv else os.environ.get("DATABASE_URL", DEFAULT_URL)
    sizes = [int(a) for a in argv[1:]] or [10_000, 100_000]
    results = [export_bench([url, str(n)], FHIR_PATH, "FHIR NDJSON") for n in sizes]
    for n, figures in zip(sizes, results, strict=True):
        # PHQ-9 has one score: each response is two lines (the response, its Observation).
        print(
            f"{n:>8,} responses: {figures['lines']:,} lines, "
            f"{figures['export_rows_per_s'] / 2:,.0f} responses/s, worker peak RSS "
            f"{figures['server_peak_rss_mb']} MiB"
        )
    if len(results) > 1:
        ratio = results[-1]["server_peak_rss_mb"] / results[0]["server_peak_rss_mb"]
        print(f"peak RSS at {sizes[-1]:,} / at {sizes[0]:,} responses: {ratio:.2f}")


if __name__ == "__main__":
    main()

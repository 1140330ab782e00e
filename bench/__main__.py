"""Run every benchmark: ``python -m bench`` (full size, under ten minutes) or ``--quick``.

The PostgreSQL database comes from DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench); the benchmarks empty it and a
sibling database ``<name>_export``. Each prints its figures and a JSON line per figure.
Needs ``wrk`` (Debian's package) for the submit and page figures.
"""

from __future__ import annotations

import os
import sys

from sqlalchemy import make_url

from bench import bench_crypto, bench_export, bench_fhir_export, bench_ledger, bench_submit

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench"


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    os.environ["DATABASE_URL"] = url
    export_url = make_url(url)
    export_url = export_url.set(database=f"{export_url.database}_export")
    export_db = export_url.render_as_string(hide_password=False)

    print("== field encryption", flush=True)
    bench_crypto.main(2_000 if quick else 20_000)
    print("== ledger: concurrent consent appends", flush=True)
    bench_ledger.main([url])
    print("== submit and page: the service against a bare INSERT (wrk, open loop)", flush=True)
    timing = ["--seconds", "6" if quick else "12", "--open-seconds", "4" if quick else "10"]
    bench_submit.main(timing)
    print("== submit with responses already stored", flush=True)
    existing = "30000" if quick else "1000000"
    bench_submit.main([*timing, "--existing", existing])
    # 1,000,000 rows is the figure that counts (the memory bound); 100,000 says the same.
    rows = "20000" if quick else "1000000"
    print(f"== export of {rows} responses", flush=True)
    bench_export.main([export_db, rows])
    sizes = ("2000", "20000") if quick else ("10000", "100000")
    print(f"== FHIR NDJSON export of {' and '.join(sizes)} responses", flush=True)
    bench_fhir_export.main([export_db, *sizes])


if __name__ == "__main__":
    main()

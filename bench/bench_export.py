"""Full CSV export of 100,000 submitted PHQ-9 responses on PostgreSQL, through a real gunicorn.

Run: .venv/bin/python -m bench.bench_export [postgresql-url] [rows]
(default postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench_export, a database it empties).
Prints rows per second and the worker's peak memory for the export, and the database's own
COPY of the same rows (ciphertext, no decryption) as the yardstick. Never pass/fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import make_url

from bench.fixtures import Cohort, fresh, staff_token
from bench.load import cpu_seconds
from service.config import PROJECT_ROOT
from service.domain.crypto import Keyring
from service.services.keyring import write_keyring_file

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench_export"


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


CSV_PATH = "/api/v1/exports/responses?instrument=phq-9"


def main(
    argv: list[str] | None = None, path: str = CSV_PATH, label: str = "CSV"
) -> dict[str, float | int | str]:
    argv = sys.argv[1:] if argv is None else argv
    url = argv[0] if argv else os.environ.get("DATABASE_URL", DEFAULT_URL)
    rows = int(argv[1]) if len(argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        keyring_path = Path(folder) / "keyring.json"
        keyring = Keyring.generate()
        write_keyring_file(keyring_path, keyring, create=True)
        engine = fresh(url)
        started = time.perf_counter()
        Cohort(engine, keyring).add((rows + 2) // 3, responses_each=3)
        token = staff_token(engine, "analyst")
        engine.dispose()
        print(f"built {rows} submitted responses in {time.perf_counter() - started:.1f} s")

        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PSAM_KEYRING": str(keyring_path),
            "PSAM_INSTANCE_DIR": folder,
            "PSAM_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers",
                "1",
                "--timeout",
                "600",
                "--bind",
                "127.0.0.1:8765",
                "wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen("http://127.0.0.1:8765/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            worker = int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])
            before = peak_rss_kib(worker)
            cpu = cpu_seconds([worker])
            request = urllib.request.Request(
                "http://127.0.0.1:8765" + path,
                headers={"Authorization": f"Bearer {token}"},
            )
            started = time.perf_counter()
            lines = size = 0
            with urllib.request.urlopen(request, timeout=600) as response:
                # Large reads, counting record ends: iterating line by line in Python would
                # make this client, on the same two cores, a bottleneck of its own.
                while block := response.read(1 << 16):
                    lines += block.count(b"\n")
                    size += len(block)
            export_seconds = seconds = time.perf_counter() - started
            peak = peak_rss_kib(worker)
            cpu = cpu_seconds([worker]) - cpu
        finally:
            server.terminate()
            server.wait()
        print(
            f"API export ({label}, decrypted): {lines - 1} lines, {size / 1e6:.1f} MB in "
            f"{seconds:.1f} s = {(lines - 1) / seconds:,.0f} rows/s; worker peak RSS "
            f"{before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB after; worker CPU "
            f"{cpu * 1e6 / max(1, lines - 1):.1f} µs a row"
        )

        import psycopg

        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain) as conn, conn.cursor() as cursor:
            started = time.perf_counter()
            copied = 0
            copy_sql = (
                "COPY (SELECT study_id, timepoint, instrument_id, version, instrument_hash, id, "
                "submitted_at, answers, scores FROM responses WHERE instrument_id = 'phq-9' "
                "AND status = 'submitted' ORDER BY submitted_at, id) TO STDOUT WITH CSV HEADER"
            )
            with cursor.copy(copy_sql) as copy:
                for block in copy:
                    copied += len(block)
            seconds = time.perf_counter() - started
        print(
            f"COPY of the same rows (ciphertext, no decryption): {copied / 1e6:.1f} MB in "
            f"{seconds:.2f} s = {rows / seconds:,.0f} rows/s"
        )
    figures = {
        "format": label,
        "lines": lines,
        "rows": lines - 1,
        "export_rows_per_s": round((lines - 1) / export_seconds),
        "copy_rows_per_s": round(rows / seconds),
        "ratio": round((lines - 1) / export_seconds / (rows / seconds), 3),
        "server_peak_rss_mb": round(peak / 1024, 1),
        "worker_cpu_us_per_row": round(cpu * 1e6 / max(1, lines - 1), 1),
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()

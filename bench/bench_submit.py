"""Full submits (PHQ-9 and GAD-7) through the real service against a bare INSERT app, in one run.

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench \\
     .venv/bin/python -m bench.bench_submit [--seconds 15] [--rounds 3] [--connections 32]
     [--existing N] [--code DIR] [--worker-class sync --threads 1]

``wrk`` drives both servers, which stay up and take turns (unkeyed submits, the bare INSERT,
keyed submits, the participant page; ``--rounds`` times), so a slow spell of the shared
machine falls on all of them. Throughput is the ratio to the bare app in the same run; the
figures contention does not distort are the worker CPU per request (from /proc, the gunicorn
workers' and their database backends') and, for latency, an open loop: keyed submits then
pages sent at a fixed rate of half the bare app's measured capacity, each timed from when it
was due. Prints one JSON line for the submit and one for the page. Never pass/fail.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import make_url, text

from bench import baseline_table
from bench.fixtures import Cohort, asked_versions, fresh
from bench.load import LoadResult, Request, Server, run_open_loop
from bench.wrk_runner import Turns, require_wrk, turn
from service.config import PROJECT_ROOT
from service.db import make_engine
from service.domain.crypto import Keyring
from service.services.keyring import write_keyring_file

PHQ9 = {f"phq9_{i}": 1 for i in range(1, 10)} | {"phq9_10": 1}
GAD7 = {f"gad7_{i}": 1 for i in range(1, 8)} | {"gad7_8": 1}
SERVICE, BARE = "psam_bench_service", "psam_bench_bare"


def submits(people: list[tuple[str, str]], keyed: bool = False) -> Iterator[Request]:
    """PHQ-9 then GAD-7 for each participant in turn, each with a key of its own if keyed."""
    for _sid, token in people:
        for instrument, answers in (("phq-9", PHQ9), ("gad-7", GAD7)):
            body = {
                "instrument": instrument,
                "version": asked_versions()[instrument],
                "timepoint": "baseline",
                "answers": answers,
                "submit": True,
            }
            headers = {"Authorization": f"Bearer {token}"}
            if keyed:
                headers["Idempotency-Key"] = str(uuid.uuid4())
            yield Request("POST", "/api/v1/me/responses", headers, body)


def pages(lines: list[str]) -> Iterator[Request]:
    while True:
        for line in lines:
            cookie, path = line.split("\t")
            yield Request("GET", path, {"Cookie": cookie, "Accept": "text/html"}, None)


def _call(
    port: int, method: str, path: str, headers: dict[str, str], body: str = ""
) -> tuple[int, str, str]:
    """One request: the status, the body and the session cookie set, if any."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        answer = conn.getresponse()
        cookie = (answer.getheader("Set-Cookie") or "").split(";", 1)[0]
        return answer.status, answer.read().decode(), cookie
    finally:
        conn.close()


def page_with_draft(port: int, token: str) -> str:
    """Sign in through the start page, save a half-answered PHQ-9 draft: "cookie<TAB>path"
    of its first page."""
    _, form, cookie = _call(port, "GET", "/p/start", {})
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found is not None, "no CSRF field on the start page"
    fields = f"csrf_token={found.group(1)}&access_code={token}"
    status, _, cookie = _call(
        port,
        "POST",
        "/p/start",
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        fields,
    )
    assert status == 303 and cookie, f"sign-in answered {status}"
    draft = {"instrument": "phq-9", "version": asked_versions()["phq-9"], "timepoint": "baseline"}
    draft["answers"] = {"phq9_1": 1, "phq9_2": 2}  # type: ignore[assignment]
    status, body, _ = _call(
        port,
        "POST",
        "/api/v1/me/responses",
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        json.dumps(draft),
    )
    assert status == 201, f"saving a draft answered {status}"
    return f"{cookie}\t/p/answers/{json.loads(body)['id']}/page/1"


def backends(url: str, name: str) -> list[int]:
    """The server processes of PostgreSQL serving connections named ``name``."""
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"), {"n": name}
        )
        pids = [int(pid) for (pid,) in found]
    engine.dispose()
    return pids


def named(url: str, name: str) -> str:
    return (
        make_url(url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )


def main(argv: list[str] | None = None) -> dict[str, float | int]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10, help="of load, per server and kind")
    parser.add_argument("--rounds", type=int, default=3, help="turns each server takes")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--participants", type=int, default=0, help="0: enough for the run")
    parser.add_argument("--existing", type=int, default=0, help="responses stored beforehand")
    parser.add_argument("--open-seconds", type=float, default=10, help="of open-loop load")
    parser.add_argument("--code", type=Path, default=PROJECT_ROOT, help="the service's checkout")
    parser.add_argument("--worker-class", default="", help="e.g. sync (default: the config's)")
    parser.add_argument("--threads", type=int, default=0, help="threads per gthread worker")
    args = parser.parse_args(argv)
    require_wrk()
    url = os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/psam_bench")
    options: tuple[str, ...] = ()
    if args.worker_class:
        options += ("--worker-class", args.worker_class)
    if args.threads:
        options += ("--threads", str(args.threads))
    turn_seconds = args.seconds / args.rounds
    # Two submits a participant; room for 1,500 submits/s of each kind, and the open loop.
    people_needed = args.participants or int(
        (2 * 1500 * (args.seconds + 2) + 1000 * args.open_seconds) / 2
    )
    with tempfile.TemporaryDirectory() as folder:
        keyring = Keyring.generate()
        keyring_path = Path(folder) / "keyring.json"
        write_keyring_file(keyring_path, keyring, create=True)
        engine = fresh(url)
        cohort = Cohort(engine, keyring)
        if args.existing:
            cohort.add((args.existing + 2) // 3, responses_each=3)
        people = cohort.add(people_needed + 100)
        baseline_table.metadata.create_all(engine)
        engine.dispose()
        paged, unkeyed_people = people[:100], people[100:]
        tokens = Path(folder) / "tokens.txt"
        tokens.write_text("".join(f"{token}\n" for _, token in unkeyed_people))
        env = {
            "PSAM_KEYRING": str(keyring_path),
            "PSAM_INSTANCE_DIR": folder,
            "PSAM_LOG_LEVEL": "WARNING",
        }
        plain, keyed, bare, page = Turns(), Turns(), Turns(), Turns()
        with (
            Server(
                "wsgi:app",
                8771,
                {**env, "DATABASE_URL": named(url, SERVICE)},
                code=args.code,
                options=options,
            ) as service,
            Server(
                "bench.baseline_app:app",
                8772,
                {**env, "DATABASE_URL": named(url, BARE)},
                options=options,
            ) as baseline,
        ):
            page_lines = Path(folder) / "pages.txt"
            page_lines.write_text(
                "".join(page_with_draft(service.port, t) + "\n" for _, t in paged)
            )
            # A short first turn of each kind, not counted: every worker has its connection
            # and its caches, as in a service that has been up a while.
            warm = Turns()
            for server, mode in ((service, "submit"), (baseline, "insert")):
                turn(server, warm, mode=mode, seconds=1, connections=8, lines=tokens)
            turn(service, Turns(), mode="page", seconds=2, expect=200, lines=page_lines,
                 connections=8)  # fmt: skip
            plain.offset = keyed.offset = warm.offset
            spare = args.connections * 4  # the requests wrk may have begun but not finished
            for _ in range(args.rounds):
                db = backends(url, SERVICE)
                turn(service, plain, mode="submit", seconds=turn_seconds,
                     connections=args.connections, lines=tokens, backends=db)  # fmt: skip
                keyed.offset = max(keyed.offset, plain.offset) + spare
                turn(baseline, bare, mode="insert", seconds=turn_seconds,
                     connections=args.connections, backends=backends(url, BARE))  # fmt: skip
                turn(service, keyed, mode="keyed", seconds=turn_seconds,
                     connections=args.connections, lines=tokens, backends=db)  # fmt: skip
                plain.offset = keyed.offset + spare
                turn(service, page, mode="page", seconds=turn_seconds, expect=200,
                     connections=args.connections, lines=page_lines, backends=db)  # fmt: skip
            rate = bare.rps / 2
            used = plain.offset // 2 + args.connections
            fresh_people = iter(unkeyed_people[used:])
            open_submits = run_open_loop(
                service.port,
                submits(list(fresh_people), keyed=True),
                rate=rate,
                seconds=args.open_seconds,
                ok={201},
            )
            open_pages = run_open_loop(
                service.port,
                pages(page_lines.read_text().splitlines()),
                rate=rate,
                seconds=args.open_seconds,
                ok={200},
            )
    figures = _figures(plain, keyed, bare, open_submits, rate, args.existing)
    print(json.dumps(figures))
    print(json.dumps(_page_figures(page, bare, open_pages, rate)))
    return figures


def _figures(
    plain: Turns, keyed: Turns, bare: Turns, open_loop: LoadResult, rate: float, existing: int
) -> dict[str, float | int]:
    print(
        f"unkeyed submits {plain.rps:,.0f}/s, keyed {keyed.rps:,.0f}/s, bare INSERT "
        f"{bare.rps:,.0f}/s; worker CPU per request: submit {plain.cpu_ms(plain.cpu_seconds)} "
        f"ms, keyed submit {keyed.cpu_ms(keyed.cpu_seconds)} ms, bare insert "
        f"{bare.cpu_ms(bare.cpu_seconds)} ms; PostgreSQL CPU per request: submit "
        f"{plain.cpu_ms(plain.db_cpu_seconds)} ms, keyed {keyed.cpu_ms(keyed.db_cpu_seconds)} "
        f"ms, bare {bare.cpu_ms(bare.db_cpu_seconds)} ms"
    )
    print(
        f"open loop, keyed submits at {rate:,.0f}/s for {open_loop.seconds:.0f} s: "
        f"{open_loop.done} done, {open_loop.errors} errors"
    )
    return {
        "submit_rps": round(plain.rps, 1),
        "baseline_rps": round(bare.rps, 1),
        "ratio": round(plain.rps / bare.rps, 3) if bare.rps else 0.0,
        "p50_ms": plain.p50_ms,
        "p99_ms": plain.p99_ms,
        "errors": plain.errors,
        "existing_rows": existing,
        "keyed_submit_rps": round(keyed.rps, 1),
        "keyed_ratio": round(keyed.rps / bare.rps, 3) if bare.rps else 0.0,
        "keyed_errors": keyed.errors,
        "open_loop_rate": round(rate, 1),
        "open_loop_p50_ms": round(open_loop.p50, 1),
        "open_loop_p99_ms": round(open_loop.percentile(0.99), 1),
        "open_loop_p999_ms": round(open_loop.percentile(0.999), 1),
        "open_loop_errors": open_loop.errors,
        "cpu_ms_per_submit": plain.cpu_ms(plain.cpu_seconds),
        "cpu_ms_per_keyed_submit": keyed.cpu_ms(keyed.cpu_seconds),
        "cpu_ms_per_insert": bare.cpu_ms(bare.cpu_seconds),
        "db_cpu_ms_per_submit": plain.cpu_ms(plain.db_cpu_seconds),
        "db_cpu_ms_per_keyed_submit": keyed.cpu_ms(keyed.db_cpu_seconds),
        "db_cpu_ms_per_insert": bare.cpu_ms(bare.db_cpu_seconds),
    }


def _page_figures(
    page: Turns, bare: Turns, open_loop: LoadResult, rate: float
) -> dict[str, float | int | str]:
    return {
        "figure": "participant page (a questionnaire page with a saved draft)",
        "page_rps": round(page.rps, 1),
        "baseline_rps": round(bare.rps, 1),
        "ratio": round(page.rps / bare.rps, 3) if bare.rps else 0.0,
        "errors": page.errors,
        "cpu_ms_per_page": page.cpu_ms(page.cpu_seconds),
        "open_loop_rate": round(rate, 1),
        "open_loop_p50_ms": round(open_loop.p50, 1),
        "open_loop_p99_ms": round(open_loop.percentile(0.99), 1),
        "open_loop_p999_ms": round(open_loop.percentile(0.999), 1),
        "open_loop_errors": open_loop.errors,
    }


if __name__ == "__main__":
    main()

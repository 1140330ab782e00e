"""Fuzz every operation of the live API from its own OpenAPI document."""

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.system.conftest import LiveServer

pytestmark = pytest.mark.system

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


# CI: 40 cases per operation, positive and negative mixed (schemathesis' "all" mode).
# `make soak-api` sets these for a long run: 1,000 or more per operation in each mode.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "40"))
MODES = os.environ.get("SCHEMATHESIS_MODES", "all").split(",")


def run_schemathesis(server: LiveServer, token: str, folder: Path, *extra: str) -> str:
    """Run schemathesis once per mode; fails on any failure; returns the combined output."""
    outputs = []
    for mode in MODES:
        output = run_schemathesis_once(server, token, folder / mode, "--mode", mode, *extra)
        # The summary (operations, test cases, failures) gives the soak's figures.
        summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
        print(f"\nschemathesis {folder.name} --mode {mode} -n {MAX_EXAMPLES}\n{summary}")
        outputs.append(output)
    return "\n".join(outputs)


HOOKS = "schemathesis_hooks.py"  # how a recording goes on the wire


def run_schemathesis_once(server: LiveServer, token: str, folder: Path, *extra: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{server.url}/api/v1/openapi.json",
            "--url",
            server.url,
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "20261125",
            # One worker: CPython 3.11's ast.parse is not safe across threads, and schemathesis
            # parses lambdas as it generates (seen as "AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--no-color",
            "--generation-database",
            "none",
            "--report-dir",
            str(folder),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900 + MAX_EXAMPLES * 30,
        check=False,
        cwd=folder,  # schemathesis keeps a cache folder in its working directory
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name(HOOKS))},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert re.search(r"\b\d+ failures?\b", output) is None, output[-8000:]
    return output


def operation_count(server: LiveServer, path_prefix: str = "") -> int:
    with urllib.request.urlopen(f"{server.url}/api/v1/openapi.json") as response:
        spec = json.loads(response.read())
    methods = {"get", "put", "post", "patch", "delete"}
    return sum(
        len(methods & set(ops))
        for path, ops in spec["paths"].items()
        if path.startswith(path_prefix)
    )


def test_no_operation_fails_or_strays_from_the_spec(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """Every operation, called with a token holding every staff role."""
    token = live_server.new_token("researcher", "analyst", "auditor", "admin")
    output = run_schemathesis(live_server, token, tmp_path / "staff")
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested.group(1)) == operation_count(live_server), output[-4000:]


def new_participant_token(server: LiveServer) -> str:
    request = urllib.request.Request(
        f"{server.url}/api/v1/participants",
        data=b"{}",
        headers={
            "Authorization": f"Bearer {server.new_token('researcher')}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return str(json.loads(response.read())["token"])


def test_participant_operations_hold_to_the_spec(live_server: LiveServer, tmp_path: Path) -> None:
    """The participant's own operations, with a participant's token. Withdrawal runs apart,
    last, because erasure revokes the token the other operations need."""
    output = run_schemathesis(
        live_server,
        new_participant_token(live_server),
        tmp_path / "participant",
        "--include-path-regex",
        "^/api/v1/me",
        "--exclude-path",
        "/api/v1/me/withdrawal",
    )
    tested = re.search(r"Tested: (\d+)", output)
    expected = operation_count(live_server, "/api/v1/me") - 1
    assert tested and int(tested.group(1)) == expected, output[-4000:]
    withdrawal = run_schemathesis(
        live_server,
        new_participant_token(live_server),
        tmp_path / "withdrawal",
        "--include-path",
        "/api/v1/me/withdrawal",
    )
    assert withdrawal.count("Tested: 1") == len(MODES)

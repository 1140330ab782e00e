"""Fuzz every operation of the live API from its own OpenAPI document."""

import json
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


def run_schemathesis(server: LiveServer, token: str, folder: Path, *extra: str) -> str:
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
            "40",
            "--seed",
            "20261125",
            "--workers",
            "2",
            "--no-color",
            "--generation-database",
            "none",
            "--report-dir",
            str(folder),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=folder,  # schemathesis keeps a cache folder in its working directory
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


def test_participant_operations_hold_to_the_spec(live_server: LiveServer, tmp_path: Path) -> None:
    """The participant's own operations, called with a participant's token."""
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/participants",
        data=b"{}",
        headers={
            "Authorization": f"Bearer {live_server.new_token('researcher')}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        token = json.loads(response.read())["token"]
    output = run_schemathesis(
        live_server, token, tmp_path / "participant", "--include-path-regex", "^/api/v1/me"
    )
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested.group(1)) == operation_count(live_server, "/api/v1/me")

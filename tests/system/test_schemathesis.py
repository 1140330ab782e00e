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


def test_no_operation_fails_or_strays_from_the_spec(
    live_server: LiveServer, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{live_server.url}/api/v1/openapi.json",
            "--url",
            live_server.url,
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {live_server.admin_token}",
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
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a cache folder in its working directory
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    with urllib.request.urlopen(f"{live_server.url}/api/v1/openapi.json") as response:
        spec = json.loads(response.read())
    methods = {"get", "put", "post", "patch", "delete"}
    operations = sum(len(methods & set(ops)) for ops in spec["paths"].values())
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested.group(1)) == operations, output[-4000:]
    assert "No issues found" in output

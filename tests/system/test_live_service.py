"""The CLI and gunicorn as an operator uses them, over real HTTP."""

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT
from tests.conftest import SHIPPED_IDS
from tests.system.conftest import LiveServer, run_cli

pytestmark = pytest.mark.system


def get(url: str, token: str | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_the_served_catalogue_lists_every_instrument(live_server: LiveServer) -> None:
    status, _, body = get(live_server.url + "/api/v1/instruments")
    assert status == 200
    assert {i["id"] for i in body["instruments"]} == SHIPPED_IDS


def test_the_bootstrap_admin_token_works_and_a_second_bootstrap_makes_none(
    live_server: LiveServer,
) -> None:
    assert get(live_server.url + "/api/v1/tokens", live_server.admin_token)[0] == 200
    again = run_cli(live_server.env, "tokens", "bootstrap-admin")
    assert again.returncode == 0 and "psam_s_" not in again.stdout


def test_sync_refuses_a_published_file_changed_by_one_character(
    live_server: LiveServer, tmp_path: Path
) -> None:
    folder = tmp_path / "instruments"
    shutil.copytree(PROJECT_ROOT / "instruments", folder)
    path = folder / "phq-9" / "1.0.0.json"
    path.write_text(path.read_text().replace("Several days", "Several Days", 1))
    result = run_cli(live_server.env, "instruments", "sync", "--directory", str(folder))
    assert result.returncode != 0
    assert "phq-9 1.0.0 is published with sha256" in result.stderr
    _, _, body = get(live_server.url + "/api/v1/instruments/phq-9/versions/1.0.0")
    assert "Several days" in json.dumps(body["definition"])


def test_access_log_lines_are_json_with_the_request_id_and_never_a_token(
    live_server: LiveServer,
) -> None:
    bogus = "psam_s_" + "x" * 49
    _, headers, body = get(live_server.url + "/api/v1/tokens?probe=1", bogus)
    assert body["status"] == 401
    assert body["instance"] == f"urn:uuid:{headers['X-Request-ID']}"
    assert get(live_server.url + "/api/v1/tokens", live_server.admin_token)[0] == 200
    log = live_server.log.read_text()
    access = [json.loads(line) for line in log.splitlines() if line.startswith('{"time"')]
    mine = [e for e in access if e.get("request_id") == headers["X-Request-ID"]]
    assert mine and mine[0]["status"] == 401 and mine[0]["path"] == "/api/v1/tokens"
    assert bogus not in log and live_server.admin_token not in log and "probe=1" not in log


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Connection": "close"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_the_enrolment_rate_limit_holds_across_gunicorn_workers(live_server: LiveServer) -> None:
    """Two workers serve these requests; the count lives in the database, so both see it."""
    statuses = [
        post_json(live_server.url + "/api/v1/enrolments", {"code": "wrong"})[0] for _ in range(5)
    ]
    assert statuses == [422] * 5
    status, headers = post_json(
        live_server.url + "/api/v1/enrolments", {"code": "system-test-code"}
    )
    assert status == 429 and int(headers["Retry-After"]) > 0

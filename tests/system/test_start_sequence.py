"""The container's command sequence (bin/psam-start, the Dockerfile's CMD), run outside a
container: without a keyring it refuses, with one it migrates, syncs and serves; and a real
gunicorn with two workers adds up its metrics across them."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.config import PROJECT_ROOT
from service.domain.crypto import Keyring
from service.services.keyring import write_keyring_file
from service.startup import EXIT_REFUSED
from tests.conftest import fresh_database
from tests.system.conftest import BIN, free_port, run_cli, wait_until_healthy

pytestmark = pytest.mark.system

START = PROJECT_ROOT / "bin" / "psam-start"
METRICS_TOKEN = "scraper-" + "x9" * 20


def container_env(folder: Path, name: str, **settings: str) -> dict[str, str]:
    """The image's environment: a keyring path off the data volume, a bind for all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PSAM_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("WEB_CONCURRENCY", None)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DATABASE_URL=fresh_database(name, folder),
        PSAM_INSTANCE_DIR=str(folder / "data"),
        PSAM_KEYRING=str(folder / "secrets" / "psam-keyring"),
        PSAM_BIND=f"127.0.0.1:{free_port()}",
        PSAM_LOG_LEVEL="WARNING",
        **settings,
    )
    return env


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(START), *args],
        cwd="/",  # the script finds the project itself, as it does in the image
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def url_of(env: dict[str, str]) -> str:
    return "http://" + env["PSAM_BIND"]


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[dict[str, str], subprocess.Popen[str]]]:
    """bin/psam-start with a keyring in a secret file, two workers, metrics enabled."""
    env = container_env(
        tmp_path,
        "psam_start_serves",
        WEB_CONCURRENCY="2",
        PSAM_METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    (tmp_path / "metrics").mkdir()
    write_keyring_file(Path(env["PSAM_KEYRING"]), Keyring.generate(), create=True)
    proc = start(env)
    try:
        wait_until_healthy(url_of(env), proc, seconds=90)
        yield env, proc
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_without_a_keyring_the_start_refuses_in_one_line_and_migrates_nothing(
    tmp_path: Path,
) -> None:
    env = container_env(tmp_path, "psam_start_refuses")
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'data' / 'psam.sqlite3'}"
    proc = start(env)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_REFUSED
    assert stderr.strip().splitlines() == [
        f"psam: refusing to start: no usable keyring (PSAM_KEYRING): no keyring at "
        f"{env['PSAM_KEYRING']}: create one with 'flask --app wsgi keys init'"
    ]
    assert "Traceback" not in stdout + stderr
    assert not (tmp_path / "data" / "psam.sqlite3").exists()


@pytest.mark.parametrize(
    ("keyring_text", "mode", "said"),
    [
        ("{not json", 0o600, "the keyring is not valid JSON"),
        (None, 0o640, "group or others can reach it"),
    ],
)
def test_an_unusable_keyring_file_is_refused_too(
    tmp_path: Path, keyring_text: str | None, mode: int, said: str
) -> None:
    env = container_env(tmp_path, "psam_start_bad_keyring")
    path = Path(env["PSAM_KEYRING"])
    write_keyring_file(path, Keyring.generate(), create=True)
    if keyring_text is not None:
        path.write_text(keyring_text)
    path.chmod(mode)
    proc = start(env)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_REFUSED
    assert len(stderr.strip().splitlines()) == 1
    assert said in stderr


def test_gunicorn_itself_refuses_before_forking_without_a_keyring(tmp_path: Path) -> None:
    env = container_env(tmp_path, "psam_gunicorn_refuses")
    done = subprocess.run(
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_REFUSED
    assert "psam: refusing to start: no usable keyring" in done.stderr
    assert "Booting worker" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_flask_command_that_needs_the_keyring_refuses_in_one_line(tmp_path: Path) -> None:
    env = container_env(tmp_path, "psam_cli_refuses")
    assert run_cli(env, "db", "upgrade").returncode == 0
    done = run_cli(env, "tokens", "bootstrap-admin")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"Error: no keyring at {env['PSAM_KEYRING']}: create one with 'flask --app wsgi keys init'"
    ]


def test_with_a_keyring_the_start_migrates_syncs_and_serves(
    serving: tuple[dict[str, str], subprocess.Popen[str]],
) -> None:
    env, proc = serving
    with urllib.request.urlopen(url_of(env) + "/readyz", timeout=10) as response:
        ready = json.load(response)
    assert response.status == 200
    assert ready["status"] == "ready"
    assert proc.poll() is None
    # The first admin token, as the README says: the same command in the same environment.
    made = run_cli(env, "tokens", "bootstrap-admin")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1].startswith("psam_s_")


def test_the_keyring_can_come_from_the_environment_instead(tmp_path: Path) -> None:
    env = container_env(
        tmp_path,
        "psam_start_env_keyring",
        PSAM_KEYRING_JSON=json.dumps(Keyring.generate().to_dict()),
    )
    proc = start(env, "migrate")
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert "keyring from PSAM_KEYRING_JSON is usable" in stdout
    assert not Path(env["PSAM_KEYRING"]).exists()


def test_two_workers_metrics_add_up_in_one_scrape(
    serving: tuple[dict[str, str], subprocess.Popen[str]], tmp_path: Path
) -> None:
    env, _ = serving
    calls = 40

    def probe(_: int) -> int:
        with urllib.request.urlopen(url_of(env) + "/healthz", timeout=10) as response:
            return int(response.status)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(probe, range(calls))) == [200] * calls
    scrape = urllib.request.Request(
        url_of(env) + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(scrape, timeout=10) as response:
        page = response.read().decode()
    served = sum(
        sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == "psam_http_requests_total" and sample.labels["route"] == "/healthz"
    )
    # wait_until_healthy's probes were of /readyz; these 40 are all the /healthz calls.
    assert served == calls
    worker_files = {p.name for p in (tmp_path / "metrics").glob("counter_*.db")}
    assert len(worker_files) >= 2, worker_files  # each worker counts in a file of its own
    assert hashlib.sha256(METRICS_TOKEN.encode()).hexdigest() not in page

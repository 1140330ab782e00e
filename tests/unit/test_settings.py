"""Every setting is checked at start: a bad value names its variable and what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT, ConfigError, load_config
from service.startup import EXIT_REFUSED


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("DATABASE_URL", "not a url", "is not a database URL"),
        ("DATABASE_URL", "mysql://db/psam", "use postgresql or sqlite"),
        ("PSAM_PROXY_HOPS", "two", "must be a whole number"),
        ("PSAM_PROXY_HOPS", "-1", "must be at least 0"),
        ("PSAM_MAX_BODY_BYTES", "10", "must be at least 1024"),
        ("PSAM_CHECKPOINT_EVERY", "0", "must be at least 1"),
        ("PSAM_LOG_LEVEL", "LOUD", "must be one of DEBUG"),
        ("PSAM_ENROLMENT_LIMIT", "lots", "must look like '10/hour'"),
        ("PSAM_ENROLMENT_LIMIT", "0/hour", "must look like '10/hour'"),
        ("PSAM_METRICS_TOKEN", "short", "at least 32 printable characters"),
        ("WEB_CONCURRENCY", "0", "must be at least 1"),
        ("PSAM_BIND", "8000", "must be HOST:PORT"),
        ("PSAM_BIND", "0.0.0.0:99999", "must be HOST:PORT"),
        ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/metrics", "must be a writable directory"),
        ("PSAM_INSTRUMENTS_DIR", "/nonexistent/instruments", "must be a directory"),
        ("PSAM_PUBLIC_URL", "study.example.org", "must be the address participants open"),
        ("PSAM_PUBLIC_URL", "https://study.example.org/?a=1", "no query, no fragment"),
        ("PSAM_DATABASE_POOLER", "odyssey", "must be pgbouncer or unset"),
        ("PSAM_DATABASE_POOLER", "pgbouncer", "needs a PostgreSQL DATABASE_URL"),
        ("PSAM_EXPORT_DATABASE_URL", "not a url", "is not a database URL"),
        ("PSAM_EXPORT_DATABASE_URL", "sqlite:///standby.db", "must name a PostgreSQL standby"),
        # The default DATABASE_URL is SQLite, which has no standby to read from.
        ("PSAM_EXPORT_DATABASE_URL", "postgresql+psycopg://standby/psam", "of a PostgreSQL"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(
    variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({variable: value})
    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable} ")
    assert problem in str(raised.value)


def test_the_defaults_are_all_valid() -> None:
    settings = load_config({})
    assert settings["PSAM_BIND"] == "127.0.0.1:8000"
    assert settings["WEB_CONCURRENCY"] is None
    assert settings["PSAM_METRICS_TOKEN_SHA256"] is None


def test_only_the_metrics_token_s_hash_is_kept() -> None:
    token = "m" * 40
    settings = load_config({"PSAM_METRICS_TOKEN": token})
    assert token not in repr(settings)
    assert len(settings["PSAM_METRICS_TOKEN_SHA256"]) == 64


def test_a_process_with_a_bad_setting_exits_with_one_line_naming_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "psam-preflight")],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "PSAM_INSTANCE_DIR": str(tmp_path), "PSAM_PROXY_HOPS": "x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_REFUSED
    assert done.stderr.strip().splitlines() == [
        "psam: refusing to start: PSAM_PROXY_HOPS must be a whole number, not 'x'"
    ]

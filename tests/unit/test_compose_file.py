"""compose.yaml validates against the compose-spec schema and the project's own rules, and
the checker that `make lint` runs does catch a broken file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "compose.yaml"
CHECKER = PROJECT_ROOT / "deploy" / "check_compose.py"


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_compose_file_is_valid() -> None:
    done = check(COMPOSE)
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("    restart: unless-stopped\n", "    restrat: unless-stopped\n", "restrat"),
        ("      replicas: 2\n", "      replicas: 1\n", "run at least two"),
        (
            "      migrate:\n        condition: service_completed_successfully\n",
            "      migrate: {}\n",
            "services/web/depends_on",
        ),
        ("    file: ./secrets/psam-keyring.json\n", "    flie: ./secrets/x\n", "flie"),
        (
            "    PSAM_KEYRING: /run/secrets/psam-keyring\n",
            "    PSAM_KEYRING: /var/lib/psam/keyring.json\n",
            "PSAM_KEYRING: use /run/secrets/psam-keyring",
        ),
    ],
)
def test_the_checker_refuses_a_broken_compose_file(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    text = COMPOSE.read_text()
    assert old in text
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace(old, new, 1))
    done = check(broken)
    assert done.returncode == 1
    assert said in done.stderr


def test_the_compose_file_never_puts_the_keyring_on_a_volume() -> None:
    text = COMPOSE.read_text()
    assert "keyring.json:/" not in text
    assert "/var/lib/psam/keyring" not in text

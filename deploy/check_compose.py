"""Validate a compose file without a container engine: the compose-spec JSON schema, then
what this project's deployment relies on. Prints each problem; exits 1 if there is any.

    python deploy/check_compose.py compose.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

SCHEMA = Path(__file__).resolve().parent / "compose-spec" / "compose-spec.json"
LONG_RUNNING = ("db", "web", "worker", "proxy")
KEYRING_MOUNT = "/run/secrets/psam-keyring"


def schema_problems(document: Any) -> list[str]:
    """Where the document breaks the compose specification."""
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=str)
    ]


def project_problems(document: dict[str, Any]) -> list[str]:
    """What docs/deployment.md promises of the compose file."""
    problems = []
    services: dict[str, Any] = document.get("services") or {}
    for name in ("db", "migrate", "web", "worker"):
        if name not in services:
            problems.append(f"services/{name}: missing")
    for name in LONG_RUNNING:
        if name in services and "healthcheck" not in services[name]:
            problems.append(f"services/{name}: no healthcheck")
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"services/{name}/depends_on: give each a condition")
            continue
        for target, rule in depends.items():
            if "condition" not in (rule or {}):
                problems.append(f"services/{name}/depends_on/{target}: no condition")
            if target not in services:
                problems.append(f"services/{name}/depends_on/{target}: no such service")
    web = services.get("web") or {}
    if (web.get("deploy") or {}).get("replicas", 1) < 2:
        problems.append("services/web/deploy/replicas: run at least two")
    defined = set(document.get("secrets") or {})
    for name in ("migrate", "web", "worker"):
        service = services.get(name) or {}
        used = {s if isinstance(s, str) else s.get("source") for s in service.get("secrets") or []}
        if "psam-keyring" not in used:
            problems.append(f"services/{name}/secrets: the keyring secret is not mounted")
        if (service.get("environment") or {}).get("PSAM_KEYRING") != KEYRING_MOUNT:
            problems.append(f"services/{name}/environment/PSAM_KEYRING: use {KEYRING_MOUNT}")
        problems += [
            f"services/{name}/secrets/{secret}: not defined under secrets"
            for secret in sorted(u for u in used if u not in defined)
        ]
    return problems


def problems_in(path: Path) -> list[str]:
    """Every problem found in the compose file at ``path``."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return [f"not YAML: {exc}"]
    if not isinstance(document, dict):
        return ["(top): not a mapping"]
    return schema_problems(document) or project_problems(document)


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "compose.yaml")
    found = problems_in(path)
    for problem in found:
        print(f"{path}: {problem}", file=sys.stderr)
    if not found:
        print(f"{path}: valid (compose-spec schema and project rules)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

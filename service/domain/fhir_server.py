"""What the FHIR face says about itself: its CapabilityStatement and its errors
(OperationOutcome). Pure, like the rest of the mapping (``service.domain.fhir``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.domain.fhir import FHIR_VERSION, FhirBase

# --- the server's statement ------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """One resource type as the CapabilityStatement lists it."""

    type: str
    interactions: tuple[str, ...]
    search: tuple[tuple[str, str, str], ...] = ()  # (name, type, documentation)
    operations: tuple[tuple[str, str], ...] = ()  # (name, documentation)
    documentation: str = ""


def capability_statement(at: FhirBase, served: Sequence[Served], date: str) -> dict[str, Any]:
    """The CapabilityStatement of a server that serves exactly ``served``."""
    resources = []
    for kind in served:
        entry: dict[str, Any] = {"type": kind.type}
        if kind.documentation:
            entry["documentation"] = kind.documentation
        if kind.interactions:
            entry["interaction"] = [{"code": code} for code in kind.interactions]
        if kind.search:
            entry["searchParam"] = [
                {"name": n, "type": t, "documentation": d} for n, t, d in kind.search
            ]
        if kind.operations:
            entry["operation"] = [
                {
                    "name": name,
                    "definition": f"{at.base}/OperationDefinition/{kind.type}-{name}",
                    "documentation": doc,
                }
                for name, doc in kind.operations
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "kind": "instance",
        "software": {"name": "psam-service"},
        "implementation": {"description": "Peer Support After Miscarriage study", "url": at.base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Questionnaires and this statement are public. Send "
                    "'Authorization: Bearer psam_s_...' (a staff token): role analyst for "
                    "the QuestionnaireResponse export, auditor for Consent."
                },
                "resource": resources,
            }
        ],
    }


# --- errors --------------------------------------------------------------------------------

ISSUE_CODES: Mapping[int, str] = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    499: "incomplete",
    503: "transient",
}


def operation_outcome(
    status: int, title: str, detail: str, errors: Mapping[str, Sequence[str]] | None
) -> dict[str, Any]:
    """An error as an OperationOutcome: one issue, or one per field at fault."""
    code = ISSUE_CODES.get(status, "exception" if status >= 500 else "processing")
    issues: list[dict[str, Any]] = []
    for field, messages in sorted((errors or {}).items()):
        for message in messages:
            issues.append(
                {
                    "severity": "error",
                    "code": code,
                    "details": {"text": title},
                    "diagnostics": f"{field}: {message}",
                    "expression": [field],
                }
            )
    if not issues:
        issues.append(
            {"severity": "error", "code": code, "details": {"text": title}, "diagnostics": detail}
        )
    return {"resourceType": "OperationOutcome", "issue": issues}

"""Example bodies for the OpenAPI document, by schema name.

Each example must satisfy its own schema (tests/api/test_openapi.py checks every one) and
uses values that pass the service's own checks: the study ID's check character is right.
"""

from __future__ import annotations

from typing import Any

STUDY_ID = "PSAM-7K3M9QXR-0"
HASH = "9f2b5c1e0d7a4f3b8c6e2a1d5f4b3c2a1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b"
PREV_HASH = "0c1d2e3f405162738495a6b7c8d9eaf00112233445566778899aabbccddeeff0"
FORM_HASH = "3e7a9c41b2d85f60e1a7c3b9d4f2e8a06b5c1d7e9f3a2b4c8d6e0f1a5b7c9d2e"
INSTRUMENT_HASH = "b41f0c2e9d6a7385e2f1c0d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9"
UUID_1 = "5f0c6d1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f"
UUID_2 = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
# Tokens as a client sees them, shortened (an example must never hold a working one).
PARTICIPANT_CREDENTIAL = "psam_p_..."
PARTICIPANT_LINK = "https://study.example.org/p/start#token=psam_p_..."
PARTICIPANT_LINK_QR = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="196" height="196">'
    "<title>QR code of the study link</title><path ... /></svg>"
)
STAFF_CREDENTIAL = "psam_s_..."
WHEN = "2026-11-25T10:00:00Z"
LATER = "2026-11-25T10:12:31Z"

_CONSENT_CLAUSES = {
    "information-sheet": True,
    "voluntary": True,
    "data-use": True,
    "interview-contact": False,
}
_CONSENT_STATE = {
    "state": "consented",
    "form_version": "1.0.0",
    "clauses": _CONSENT_CLAUSES,
    "withdrawal": None,
}
_TASK = {
    "timepoint": "baseline",
    "instrument": "phq-9",
    "version": "1.0.0",
    "status": "open",
    "opens": "2026-11-25",
    "closes": "2026-12-09",
    "response_id": None,
}
_RECEIPT = {
    "seq": 17,
    "hash": HASH,
    "type": "consent",
    "recorded_at": WHEN,
    "form_version": "1.0.0",
    "form_hash": FORM_HASH,
    "clauses": _CONSENT_CLAUSES,
    "scope": None,
}
_RESPONSE = {
    "id": UUID_1,
    "status": "submitted",
    "instrument": "phq-9",
    "version": "1.0.0",
    "instrument_hash": INSTRUMENT_HASH,
    "timepoint": "baseline",
    "started_at": WHEN,
    "submitted_at": LATER,
    "answers": {"phq9_1": 2, "phq9_2": 1, "phq9_9": 1},
    "scores": [{"id": "phq9_total", "label": "PHQ-9 total", "value": 12, "band": "moderate"}],
    "alerts": [
        {
            "id": "phq9_item9",
            "severity": "urgent",
            "signposting": "If you are thinking of harming yourself, call 999 or go to A&E.",
        }
    ],
}
_ALERT = {
    "id": UUID_2,
    "study_id": STUDY_ID,
    "response_id": UUID_1,
    "rule": "phq9_item9",
    "reasons": ["phq9_item9", "epds_item10"],
    "timepoint": "baseline",
    "severity": "urgent",
    "raised_at": LATER,
    "status": "open",
    "acknowledged_at": None,
}
_MANIFEST = {
    "id": UUID_1,
    "actor": {"kind": "staff", "token_id": UUID_2, "label": "Analyst, R. Patel"},
    "created_at": WHEN,
    "completed_at": LATER,
    "status": "complete",
    "filters": {"instrument": "phq-9", "timepoint": "baseline"},
    "versions": [{"version": "1.0.0", "sha256": INSTRUMENT_HASH}],
    "format": "csv",
    "row_count": 214,
    "sha256": HASH,
    "skipped_count": 0,
    "skipped": [],
    "read_from": "primary",
    "data_as_of": WHEN,
}
_VERSION_SUMMARY = {"version": "1.0.0", "sha256": INSTRUMENT_HASH, "published_at": WHEN}
_CHECKPOINT = {
    "id": UUID_2,
    "log": "consent",
    "length": 1234,
    "head_hash": HASH,
    "time": WHEN,
    "note": "psam consent log\n1234\n" + HASH + "\n",
}
_TOKEN = {
    "id": UUID_2,
    "label": "Analyst, R. Patel",
    "roles": ["analyst"],
    "hint": "psam_s_...3f9a",
    "created_at": WHEN,
    "expires_at": "2027-02-23T10:00:00Z",
    "revoked_at": None,
}
_WITNESS = {
    "id": UUID_2,
    "name": "Ethics committee witness",
    "public_key": "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=",
    "key_hash": HASH,
    "registered_at": WHEN,
    "approved": True,
}
_PROBLEM_TYPE = {
    "type": "/api/v1/problems/consent-required",
    "code": "consent-required",
    "status": 403,
    "title": "Consent required",
    "description": "Sign the consent form in force before sending answers.",
}
_PARTICIPANT = {
    "study_id": STUDY_ID,
    "site": "leeds",
    "enrolled_at": WHEN,
    "consent": _CONSENT_STATE,
    "task_counts": {"open": 1, "completed": 5, "not-yet-open": 12},
    "open_alerts": 1,
}

EXAMPLES: dict[str, Any] = {
    # Request bodies
    "EnrolmentRequest": {"site": "leeds", "contact": {"email": "sam@example.org"}},
    "SelfEnrolment": {"code": "the code on the recruitment leaflet", "site": "leeds"},
    "SignConsent": {
        "form_version": "1.0.0",
        "form_hash": FORM_HASH,
        "clauses": _CONSENT_CLAUSES,
        "typed_name": "Sam Taylor",
    },
    "Withdrawal": {"scope": "no-further-contact"},
    "StartResponse": {
        "instrument": "phq-9",
        "version": "1.0.0",
        "timepoint": "baseline",
        "answers": {"phq9_1": 2, "phq9_2": 1},
        "submit": False,
    },
    "SaveAnswers": {"answers": {"phq9_3": 0, "phq9_4": None}},
    "Acknowledge": {"note": "Phoned the participant; GP informed with their agreement."},
    "Cosign": {"witness_id": UUID_2, "signature": "c2lnbmF0dXJlIG92ZXIgdGhlIG5vdGUgYm9keQ=="},
    "WitnessRegistration": {
        "name": "Ethics committee witness",
        "public_key": _WITNESS["public_key"],
    },
    "TokenCreate": {"label": "Analyst, R. Patel", "roles": ["analyst"], "expires_days": 90},
    # Response bodies
    "Health": {"status": "ok"},
    "InterviewFile": {
        "kind": "audio",
        "media_type": "audio/ogg",
        "bytes": 52428800,
        "sha256": HASH,
        "uploaded_at": WHEN,
        "verified_at": None,
        "destroyed_at": None,
    },
    "Readiness": {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "keyring": "ok", "catalogue": "ok"},
    },
    "Catalogue": {
        "instruments": [
            {
                "id": "phq-9",
                "title": "Patient Health Questionnaire (PHQ-9)",
                "kind": "questionnaire",
                "versions": [_VERSION_SUMMARY],
            }
        ]
    },
    "InstrumentVersion": {
        "id": "phq-9",
        "version": "1.0.0",
        "kind": "questionnaire",
        "title": "Patient Health Questionnaire (PHQ-9)",
        "sha256": INSTRUMENT_HASH,
        "published_at": WHEN,
        "definition": {"id": "phq-9", "version": "1.0.0", "kind": "questionnaire", "items": []},
        "languages": ["en-GB"],
    },
    "ConsentForm": {
        "id": "consent",
        "version": "1.0.0",
        "sha256": FORM_HASH,
        "language": "cy-GB",
        "languages": ["en-GB", "cy-GB"],
        "text_sha256": INSTRUMENT_HASH,
        "title": "Consent to take part",
        "information_sheet_version": "2.1",
        "preamble": "Please read the participant information sheet first.",
        "clauses": [
            {"id": "information-sheet", "text": "I have read the sheet.", "required": True},
            {"id": "interview-contact", "text": "You may invite me.", "required": False},
        ],
    },
    "Enrolment": {
        "study_id": STUDY_ID,
        "token": PARTICIPANT_CREDENTIAL,
        "link": PARTICIPANT_LINK,
        "link_qr_svg": PARTICIPANT_LINK_QR,
        "enrolled_at": WHEN,
    },
    "NewToken": {
        "study_id": STUDY_ID,
        "token": PARTICIPANT_CREDENTIAL,
        "link": PARTICIPANT_LINK,
        "link_qr_svg": PARTICIPANT_LINK_QR,
    },
    "ParticipantPage": {"participants": [_PARTICIPANT], "next_after": None},
    "ParticipantDetail": {
        **_PARTICIPANT,
        "tasks": [_TASK],
        "alerts": [_ALERT],
        "events": [_RECEIPT],
        "reminders": {"channel": None, "reason": "no email address"},
    },
    "MessageList": {
        "study_id": STUDY_ID,
        "messages": [
            {
                "id": UUID_2,
                "kind": "reminder-1",
                "channel": "email",
                "timepoint": "month-3",
                "status": "sent",
                "attempts": 1,
                "created_at": WHEN,
                "sent_at": LATER,
                "last_error": None,
            }
        ],
    },
    "ContactDetails": {
        "study_id": STUDY_ID,
        "name": "Sam Taylor",
        "email": "sam@example.org",
        "phone": None,
    },
    "Me": {"study_id": STUDY_ID, "consent": _CONSENT_STATE, "tasks": [_TASK]},
    "Receipt": _RECEIPT,
    "ReceiptList": {"receipts": [_RECEIPT]},
    "QuestionnaireResponse": _RESPONSE,
    "Alert": {**_ALERT, "status": "acknowledged", "acknowledged_at": LATER},
    "AlertList": {"alerts": [_ALERT]},
    "Manifest": _MANIFEST,
    "ManifestList": {"exports": [_MANIFEST]},
    "LogPage": {
        "entries": [
            {
                "seq": 17,
                "prev_hash": PREV_HASH,
                "hash": HASH,
                "event": {"type": "consent", "study_id": STUDY_ID, "form_version": "1.0.0"},
            }
        ],
        "next_after_seq": 17,
    },
    "Verification": {
        "log": "consent",
        "ok": True,
        "length": 1234,
        "head_hash": HASH,
        "first_bad_seq": None,
        "checkpoints_checked": 12,
        "unsigned_entries": 3,
        "problems": [],
    },
    "Checkpoint": _CHECKPOINT,
    "CheckpointList": {"public_key_id": "k1", "checkpoints": [_CHECKPOINT]},
    "Witness": _WITNESS,
    "WitnessList": {"witnesses": [_WITNESS]},
    "Token": _TOKEN,
    "TokenList": {"tokens": [_TOKEN]},
    "TokenCreated": {**_TOKEN, "token": STAFF_CREDENTIAL},
    "ProblemType": _PROBLEM_TYPE,
    "ProblemCatalogue": {"problems": [_PROBLEM_TYPE]},
}

EXPORT_CSV = (
    "study_id,timepoint,instrument,version,instrument_hash,response_id,submitted_at,"
    "phq9_1,phq9_2,phq9_total\r\n"
    f"{STUDY_ID},baseline,phq-9,1.0.0,{INSTRUMENT_HASH},{UUID_1},{LATER},2,1,12\r\n"
)
EXPORT_NDJSON = (
    f'{{"study_id": "{STUDY_ID}", "timepoint": "baseline", "instrument": "phq-9", '
    f'"version": "1.0.0", "response_id": "{UUID_1}", "phq9_1": 2, "phq9_total": 12}}\n'
)
_CODEBOOK_COLUMN = {
    "name": "phq9_1",
    "label": "Little interest or pleasure in doing things",
    "type": "integer",
    "item": "phq9_1",
    "codes": [{"code": 0, "label": "Not at all"}, {"code": 1, "label": "Several days"}],
}
CODEBOOK_JSON = {
    "instrument": "phq-9",
    "pseudonyms": "study-id",
    "submitted": "time",
    "fixed_columns": [
        {"name": "study_id", "label": "Participant", "type": "string", "note": "..."}
    ],
    "versions": [
        {
            "version": "1.0.0",
            "sha256": INSTRUMENT_HASH,
            "title": "Patient Health Questionnaire (PHQ-9)",
            "columns": [_CODEBOOK_COLUMN],
        }
    ],
}
CODEBOOK_CSV = (
    "version,sha256,column,label,type,item,codes,note\r\n"
    ",,study_id,Participant,string,,,The participant's study ID\r\n"
    f"1.0.0,{INSTRUMENT_HASH},phq9_1,Little interest or pleasure in doing things,integer,"
    "phq9_1,0=Not at all|1=Several days,\r\n"
)
PUBLIC_KEY_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
    "-----END PUBLIC KEY-----\n"
)

_SLOT_REQUEST = ("starts_at", "minutes", "mode", "interviewer_id")
_SLOT = {"id": UUID_2, "starts_at": "2026-12-01T10:00:00Z", "minutes": 60, "mode": "phone"}
_STAFF_SLOT = {**_SLOT, "interviewer_id": UUID_1, "cancelled_at": None, "interview_id": UUID_1}
_INTERVIEW = {
    "id": UUID_1,
    "study_id": STUDY_ID,
    "status": "scheduled",
    "channel": "email",
    "invited_at": WHEN,
    "updated_at": LATER,
    "cancel_reason": None,
    "slot": _STAFF_SLOT,
}
EXAMPLES.update(
    {
        "Invite": {"channel": "email"},
        "Invitation": {"id": UUID_1, "status": "invited"},
        "SlotRequest": {k: v for k, v in _STAFF_SLOT.items() if k in _SLOT_REQUEST},
        "Slot": _STAFF_SLOT,
        "SlotList": {"slots": [_STAFF_SLOT]},
        "Interview": _INTERVIEW,
        "InterviewList": {"interviews": [_INTERVIEW]},
        "EligibleList": {
            "participants": [{"study_id": STUDY_ID, "has_email": True, "open_interview": None}]
        },
        "Schedule": {"slot_id": UUID_2},
        "Accept": {"slot_id": UUID_2},
        "MyInterview": {k: _INTERVIEW[k] for k in ("id", "status", "channel", "invited_at")}
        | {"slot": _SLOT},
        "MyInterviews": {
            "interviews": [
                {
                    "id": UUID_1,
                    "status": "invited",
                    "channel": "email",
                    "invited_at": WHEN,
                    "slot": None,
                }
            ],
            "slots": [_SLOT],
        },
    }
)

# Parameters by name (path, query and header alike), for those with no enum or default.
PARAMETER_EXAMPLES: dict[str, Any] = {
    "lang": "cy-GB",
    "alert_id": UUID_2,
    "checkpoint_id": UUID_2,
    "export_id": UUID_1,
    "interview_id": UUID_1,
    "response_id": UUID_1,
    "token_id": UUID_2,
    "witness_id": UUID_2,
    "slot_id": UUID_2,
    "code": "consent-required",
    "instrument_id": "phq-9",
    "instrument": "phq-9",
    "version": "1.0.0",
    "study_id": STUDY_ID,
    "after": STUDY_ID,
    "timepoint": "baseline",
    "consent_clause": "interview-contact",
    "site": "leeds",
    "since": WHEN,
    "until": LATER,
    "submitted_since": WHEN,
    "submitted_until": LATER,
    "url": "https://study.example.org/fhir/r4/Questionnaire/phq-9",
    "resource_id": "consent-log-17",
    "Idempotency-Key": "3b0f9a52-6c1e-4d0b-9a7e-2f4c8d1e6a90",
    "If-None-Match": f'"{INSTRUMENT_HASH}"',
}


def problem_example(status: int, code: str, title: str, detail: str) -> dict[str, Any]:
    """A problem+json body as the service sends it."""
    example: dict[str, Any] = {
        "type": f"/api/v1/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if status == 422:
        example["errors"] = {"answers.phq9_3": ["Not one of the codes 0, 1, 2, 3."]}
    return example

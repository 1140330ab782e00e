"""Anything shaped like a token is blanked in every log record; SQL parameters stay hidden."""

from __future__ import annotations

import logging
import sys

import pytest

from service.db import make_engine
from service.domain.tokens import TokenKind, generate_token
from service.logs import REDACTED, RedactTokens, redact

STAFF = generate_token(TokenKind.STAFF)
PARTICIPANT = generate_token(TokenKind.PARTICIPANT)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {STAFF}", STAFF),
        (f"Invalid HTTP Header: 'Authorization Bearer {PARTICIPANT}'", PARTICIPANT),
        (f"GET /api/v1/me?x={PARTICIPANT[:20]}&y=1", PARTICIPANT[:20]),
        (f"GET /api/v1/me?access_token=abc{STAFF[10:]}", STAFF[10:]),
        ("psam_s_", "psam_s_"),
        (f"{STAFF.upper()} in capitals", STAFF.upper()),
        (f"escaped psam%5Fs%5F{STAFF[7:]}", STAFF[7:]),
        (f'json "psam\\u005fp_{PARTICIPANT[7:]}"', PARTICIPANT[7:]),
        ("bearer opaque-credential-of-no-known-shape", "opaque-credential"),
    ],
    # Named, not numbered by their random tokens: xdist workers must collect the same ids.
    ids=[
        "header",
        "malformed-header",
        "query-prefix",
        "query-tail",
        "bare-prefix",
        "capitals",
        "percent-escaped",
        "json-escaped",
        "opaque-bearer",
    ],
)
def test_each_token_shape_is_blanked(text: str, secret: str) -> None:
    redacted = redact(text)
    assert secret not in redacted
    assert REDACTED in redacted


def test_text_without_tokens_is_left_as_it_is() -> None:
    text = "POST /api/v1/me/responses 201 study PSAM-7K3M9QXR-4 took 12 ms"
    assert redact(text) == text


def test_the_filter_blanks_the_message_its_arguments_and_its_traceback() -> None:
    try:
        raise ValueError(f"bad token {STAFF}")
    except ValueError:
        record = logging.LogRecord(
            "gunicorn.error", logging.ERROR, __file__, 1, "seen %s", (PARTICIPANT,), sys.exc_info()
        )
    assert RedactTokens().filter(record) is True
    formatted = logging.Formatter().format(record)
    assert STAFF not in formatted and PARTICIPANT not in formatted
    assert "ValueError: bad token [REDACTED]" in formatted
    assert record.getMessage() == "seen [REDACTED]"


@pytest.mark.parametrize(
    "url", ["sqlite://", "postgresql+psycopg://user@127.0.0.1:1/nothing_is_connected_to"]
)
def test_every_engine_keeps_bound_values_out_of_its_errors(url: str) -> None:
    engine = make_engine(url)
    assert engine.hide_parameters is True
    engine.dispose()

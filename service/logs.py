"""Structured logs: one JSON object a line on stdout, each carrying the request id.

Log calls pass only ids, counts and kinds of things; the formatter adds no request data of
its own, so a token, key, answer or identifier can only reach a log if a call puts it there.
Libraries are another matter (gunicorn logs a malformed request line or header as it came,
a database error carries its SQL), so every logger and handler we know of also passes
each record through ``RedactTokens``, which blanks anything shaped like a token.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable
from typing import Any

from flask import g, has_request_context, request


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            entry["method"] = request.method
            entry["endpoint"] = request.endpoint
        if record.exc_text:  # already formatted, and redacted, by RedactTokens
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


REDACTED = "[REDACTED]"
# Our tokens (psam_s_..., psam_p_...), also cut short, mistyped or escaped as they may be in
# a URL or a JSON string: anything that begins with "psam_". And whatever follows "Bearer",
# or a query parameter named like a token, whatever it looks like.
_TOKEN_SHAPES = re.compile(
    r"psam(?:_|%5f|\\u005f|\\x5f)[\w\-.~%+/=\\]*"
    r"|(?<=bearer)((?:\s|%20|\+|:|=)+)[^\s\"',;&]+"
    r"|(?<=token=)[^\s\"',;&]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """The text with anything shaped like a token replaced by [REDACTED]."""
    return _TOKEN_SHAPES.sub(_blank, text)


def _blank(match: re.Match[str]) -> str:
    return (match.group(1) or "") + REDACTED  # keeps the space after "Bearer"


class RedactTokens(logging.Filter):
    """Rewrite each record with its message (and traceback) redacted; drops nothing."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


LIBRARY_LOGGERS = ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "werkzeug", "alembic")


def protect(loggers: Iterable[logging.Logger], handlers: Iterable[logging.Handler] = ()) -> None:
    """Put RedactTokens on these loggers and their handlers, and on these handlers (once)."""
    for target in [*handlers, *(h for lg in loggers for h in lg.handlers), *loggers]:
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())


def configure_logging(level: str) -> None:
    """Send the service's logs to stdout as JSON lines (once per process)."""
    logger = logging.getLogger("service")
    # A record from a child logger meets its ancestors' handlers but not their filters, so
    # the handlers (also Python's last resort, which prints when no handler is set) carry
    # the filter as well as the loggers.
    protect(
        [logger, logging.getLogger(), *map(logging.getLogger, LIBRARY_LOGGERS)],
        [h for h in (logging.lastResort,) if h is not None],
    )
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactTokens())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def assign_request_id() -> None:
    """Take the caller's X-Request-ID when it is a UUID, else make one."""
    try:
        g.request_id = str(uuid.UUID(request.headers.get("X-Request-ID", "")[:64]))
    except ValueError:
        g.request_id = str(uuid.uuid4())

"""Structured logs: one JSON object a line on stdout, each carrying the request id.

Log calls pass only ids, counts and kinds of things; the formatter adds no request data of
its own, so a token, key, answer or identifier can only reach a log if a call puts it there.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import uuid
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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str) -> None:
    """Send the service's logs to stdout as JSON lines (once per process)."""
    logger = logging.getLogger("service")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def assign_request_id() -> None:
    """Take the caller's X-Request-ID when it is a UUID, else make one."""
    try:
        g.request_id = str(uuid.UUID(request.headers.get("X-Request-ID", "")[:64]))
    except ValueError:
        g.request_id = str(uuid.uuid4())

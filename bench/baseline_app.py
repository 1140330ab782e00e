"""The yardstick for the submit benchmark: one SQLAlchemy INSERT of a row the size of a
submitted response, per request, in the same database, under the same gunicorn settings."""

from __future__ import annotations

import json
import os
import uuid

from flask import Flask, Response, request
from sqlalchemy import insert

from bench.baseline_table import rows
from service.db import make_engine

# The benchmark creates the table before it starts this app: workers booting at once would
# race to create it, and a worker that fails to boot stops gunicorn.
engine = make_engine(os.environ["DATABASE_URL"])
app = Flask(__name__)


@app.get("/healthz")
def healthz() -> Response:
    return Response('{"status":"ok"}', content_type="application/json")


@app.post("/insert")
def insert_row() -> Response:
    body = request.get_json()
    with engine.begin() as conn:
        conn.execute(insert(rows).values(id=uuid.uuid4(), body=body))
    return Response(json.dumps({"ok": True}), status=201, content_type="application/json")

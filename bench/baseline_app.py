"""The yardstick for the submit benchmark: one SQLAlchemy INSERT of a row the size of a
submitted response, per request, in the same database, under the same gunicorn settings."""

from __future__ import annotations

import json
import os
import uuid

from flask import Flask, Response, request
from sqlalchemy import JSON, Column, MetaData, Table, Uuid, insert

from service.db import make_engine

metadata = MetaData()
rows = Table("bench_baseline", metadata, Column("id", Uuid, primary_key=True), Column("body", JSON))
engine = make_engine(os.environ["DATABASE_URL"])
metadata.create_all(engine)
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

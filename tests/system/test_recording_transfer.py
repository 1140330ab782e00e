"""A 200 MB interview recording through a real gunicorn: up as a chunked stream from a
generator, down as a stream, the SHA-256 equal at both ends, and the worker's peak memory
(VmHWM, which counts its start-up too) printed and bounded well below the file's size.

The figures (MB/s both ways, peak memory) are printed for the issue's note; only the memory
bound and the hashes are asserted, never a speed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from service.db import utcnow
from service.models import Interview
from tests.system.harness import Gunicorn, consented_participant, deploy

pytestmark = pytest.mark.system

SIZE = 200 * 1024 * 1024
PIECE = 1024 * 1024
PEAK_BOUND_MB = 200


def recording() -> Iterator[bytes]:
    """200 MB of incompressible bytes, a piece at a time (never all of it at once)."""
    seed = hashlib.sha256(b"a recording").digest()
    for n in range(SIZE // PIECE):
        block = hashlib.sha256(seed + n.to_bytes(4, "big")).digest()
        yield block * (PIECE // len(block))


def worker_peak_mb(master: int) -> float:
    """The peak resident memory of the master's one worker, from /proc (VmHWM)."""
    children = subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(children) == 1, children
    status = Path(f"/proc/{children[0]}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def test_a_200_mb_recording_streams_up_and_down_in_flat_memory(tmp_path: Path) -> None:
    deployment = deploy("psam_recording_transfer", tmp_path, PSAM_LOG_LEVEL="WARNING")
    server = Gunicorn(deployment, workers=1).start()
    try:
        assert server.proc is not None
        study_id, _token = consented_participant(server.url, deployment)
        engine = create_engine(deployment.env["DATABASE_URL"])
        interview = uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(
                Interview.__table__.insert().values(
                    id=interview,
                    study_id=study_id,
                    status="done",
                    channel="phone",
                    invited_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        engine.dispose()
        started_mb = worker_peak_mb(server.proc.pid)
        auth = {"Authorization": f"Bearer {deployment.researcher}"}
        sent = hashlib.sha256()

        def counted() -> Iterator[bytes]:
            for piece in recording():
                sent.update(piece)
                yield piece

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        began = time.perf_counter()
        conn.request(
            "PUT",
            f"/api/v1/interviews/{interview}/audio",
            body=counted(),
            encode_chunked=True,
            headers={**auth, "Content-Type": "audio/ogg"},
        )
        answer = conn.getresponse()
        body = answer.read()
        up_seconds = time.perf_counter() - began
        assert answer.status == 201, body
        assert json.loads(body) | {"bytes": SIZE, "sha256": sent.hexdigest()} == json.loads(body)
        conn.close()

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        began = time.perf_counter()
        conn.request("GET", f"/api/v1/interviews/{interview}/audio", headers=auth)
        answer = conn.getresponse()
        assert answer.status == 200
        back, size = hashlib.sha256(), 0
        while piece := answer.read(PIECE):
            back.update(piece)
            size += len(piece)
        down_seconds = time.perf_counter() - began
        conn.close()

        peak_mb = worker_peak_mb(server.proc.pid)
        megabytes = SIZE / 1024 / 1024
        print(
            f"\n200 MB recording: up {megabytes / up_seconds:.1f} MB/s ({up_seconds:.1f} s), "
            f"down {megabytes / down_seconds:.1f} MB/s ({down_seconds:.1f} s, every chunk "
            f"opened twice); worker peak RSS {peak_mb:.0f} MB (at start {started_mb:.0f} MB); "
            f"database {engine.dialect.name}"
        )
        assert size == SIZE
        assert back.hexdigest() == sent.hexdigest()
        assert peak_mb < PEAK_BOUND_MB
    finally:
        server.stop()

"""Interview recordings and transcripts: streamed up, checked whole, streamed down."""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Iterable, Iterator

from flask import Response, current_app, request
from flask_smorest import Blueprint
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from schemas.recordings import InterviewFileSchema
from service.api.access import current_principal, refuse_head, requires_roles
from service.api.reading import streamed_body
from service.db import Database, get_db, get_session
from service.domain.crypto import CryptoError
from service.errors import UNSUPPORTED_MEDIA_TYPE, ApiError
from service.resources import get_keys, trail_of
from service.services import recordings
from service.services.recordings import AUDIO, TRANSCRIPT, FileStatus

log = logging.getLogger(__name__)
PIECE_BYTES = 64 * 1024
TRANSCRIPT_MEDIA_TYPE = "text/plain; charset=utf-8"
# audio/<subtype> as RFC 6838 allows it, short enough for interview_files.media_type.
AUDIO_MEDIA_TYPE = re.compile(r"audio/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,93}")

blp = Blueprint(
    "recordings",
    __name__,
    url_prefix="/api/v1/interviews",
    description="Interview recordings and transcripts",
)


_BINARY = {"type": "string", "format": "binary"}


def _upload_doc(media: str, example: str) -> dict[str, object]:
    return {
        "requestBody": {
            "required": True,
            "description": "The file itself, streamed (chunked transfer is fine)",
            "content": {media: {"schema": _BINARY, "example": example}},
        }
    }


def _download_doc(media: str, example: str) -> dict[str, object]:
    return {
        "responses": {
            "200": {
                "description": "The file, streamed once every chunk has been checked; "
                "Repr-Digest carries its SHA-256",
                "content": {media: {"schema": _BINARY, "example": example}},
            }
        }
    }


def body_pieces() -> Iterator[bytes]:
    """The request body as it arrives, a piece at a time: never the whole of it."""
    stream = request.stream
    while piece := stream.read(PIECE_BYTES):
        yield piece


def snapshot_session(db: Database) -> Session:
    """A read-only session whose reads all see one snapshot (REPEATABLE READ on PostgreSQL;
    SQLite's deferred read transaction under WAL is a snapshot already)."""
    bind = db.read_sessionmaker.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        return db.read_sessionmaker(bind=bind.execution_options(isolation_level="REPEATABLE READ"))
    return db.read_sessionmaker()


def store(
    interview_id: uuid.UUID,
    kind: str,
    media_type: str,
    limit_setting: str,
    body: Iterable[bytes] | None = None,
) -> FileStatus:
    """Store a body (the request's, streamed, unless given) as an interview's file."""
    return recordings.store_file(
        get_session(),
        get_keys(),
        trail_of(current_principal()),
        interview_id,
        kind,
        media_type,
        body_pieces() if body is None else body,
        current_app.config[limit_setting],
    )


def download(interview_id: uuid.UUID, kind: str) -> Response:
    """Check the whole file in one snapshot, then stream it from that snapshot. A fault
    found then is a 409 with nothing sent; one that appears while sending (it cannot, short
    of a bug) breaks the connection short of Content-Length, never a clean end."""
    refuse_head()
    recordings.record_download(get_session(), trail_of(current_principal()), interview_id, kind)
    reading = snapshot_session(get_db())
    try:
        download = recordings.checked_download(reading, get_keys(), interview_id, kind)
    except BaseException:
        reading.close()
        raise

    def stream() -> Iterator[bytes]:
        try:
            yield from download.plaintext
        except CryptoError as error:
            name = type(error).__name__
            log.error("interview %s %s failed mid-stream: %s", interview_id, kind, name)
            raise
        finally:
            download.plaintext.close()
            reading.close()

    status = download.status
    digest = base64.b64encode(bytes.fromhex(status.sha256)).decode("ascii")
    response = Response(stream(), content_type=status.media_type)
    response.headers["Content-Length"] = str(status.bytes)
    response.headers["Repr-Digest"] = f"sha-256=:{digest}:"
    name = f"interview-{interview_id}-{kind}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@blp.route("/<uuid:interview_id>/audio", methods=["PUT"])
@requires_roles("researcher")
@streamed_body("PSAM_AUDIO_MAX_BYTES")
@blp.doc(**_upload_doc("audio/*", "(the recording's bytes)"))
@blp.response(201, InterviewFileSchema)
def put_audio(interview_id: uuid.UUID) -> FileStatus:
    """Store an interview's recording (any audio/* type), streamed and sealed chunk by chunk;
    only while the participant's consent in force includes audio recording. Replaces an
    earlier upload. Over PSAM_AUDIO_MAX_BYTES: 413, nothing stored."""
    if not AUDIO_MEDIA_TYPE.fullmatch(request.mimetype):
        raise ApiError(UNSUPPORTED_MEDIA_TYPE, "Send the recording with an audio/* Content-Type.")
    return store(interview_id, AUDIO, request.mimetype, "PSAM_AUDIO_MAX_BYTES")


@blp.route("/<uuid:interview_id>/audio", methods=["GET"])
@requires_roles("researcher")
@blp.doc(**_download_doc("audio/*", "(the recording's bytes)"))
def get_audio(interview_id: uuid.UUID) -> Response:
    """Stream an interview's recording back once every chunk has been checked; logged."""
    return download(interview_id, AUDIO)


@blp.route("/<uuid:interview_id>/transcript", methods=["PUT"])
@requires_roles("researcher")
@streamed_body("PSAM_TRANSCRIPT_MAX_BYTES")
@blp.doc(**_upload_doc(TRANSCRIPT_MEDIA_TYPE, "Interviewer: How were the first weeks?"))
@blp.response(201, InterviewFileSchema)
def put_transcript(interview_id: uuid.UUID) -> FileStatus:
    """Store an interview's de-identified transcript (UTF-8 text), sealed like a recording.
    Replaces an earlier one (which then needs verifying again)."""
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype != "text/plain" or charset not in ("utf-8", "utf8"):
        raise ApiError(UNSUPPORTED_MEDIA_TYPE, f"Send the transcript as '{TRANSCRIPT_MEDIA_TYPE}'.")
    return store(interview_id, TRANSCRIPT, TRANSCRIPT_MEDIA_TYPE, "PSAM_TRANSCRIPT_MAX_BYTES")


@blp.route("/<uuid:interview_id>/transcript", methods=["GET"])
@requires_roles("researcher")
@blp.doc(**_download_doc(TRANSCRIPT_MEDIA_TYPE, "Interviewer: How were the first weeks?"))
def get_transcript(interview_id: uuid.UUID) -> Response:
    """Stream an interview's transcript back once it has been checked whole; logged."""
    return download(interview_id, TRANSCRIPT)


@blp.route("/<uuid:interview_id>/transcript/verify", methods=["POST"])
@requires_roles("researcher")
@blp.response(200, InterviewFileSchema)
def verify_transcript(interview_id: uuid.UUID) -> FileStatus:
    """Mark the transcript verified (checked and de-identified): the recording is destroyed
    PSAM_AUDIO_RETENTION_DAYS later."""
    return recordings.verify_transcript(get_session(), trail_of(current_principal()), interview_id)

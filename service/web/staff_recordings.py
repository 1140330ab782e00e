"""The researchers' console page for an interview's files: what is stored of the recording
and the transcript, downloads, a transcript form and the button that marks it verified; and
the analysts' quotes download. The same service calls as the JSON API, so the same checks
(consent, integrity) and the same access-log events."""

from __future__ import annotations

import uuid

from flask import Response, redirect, request, url_for

from service.api.access import current_principal, staff_page
from service.api.quotes import quotes_download
from service.api.recordings import TRANSCRIPT_MEDIA_TYPE, download, store
from service.db import get_session
from service.resources import trail_of
from service.services import recordings
from service.services.recordings import AUDIO, KINDS, TRANSCRIPT
from service.web.staff import blp, render, with_faults

NAMES = {AUDIO: "Recording", TRANSCRIPT: "Transcript"}


def _page(interview_id: uuid.UUID, faults: dict[str, str], text: str = "") -> Response:
    files = recordings.files_of(get_session(), trail_of(current_principal()), interview_id)
    return render(
        "staff/interview_files.html",
        422 if faults else 200,
        interview_id=interview_id,
        files=[(kind, NAMES[kind], files.get(kind)) for kind in KINDS],
        text=text,
        **with_faults(faults),
    )


@blp.route("/interviews/<uuid:interview_id>/files", methods=["GET"])
@staff_page("researcher")
def interview_files(interview_id: uuid.UUID) -> Response:
    """The recording and the transcript: size, when uploaded, verified or destroyed."""
    return _page(interview_id, {})


@blp.route("/interviews/<uuid:interview_id>/files/<kind>", methods=["GET"])
@staff_page("researcher")
def interview_file_download(interview_id: uuid.UUID, kind: str) -> Response:
    """The recording or the transcript, checked whole, then streamed."""
    if kind not in KINDS:
        return _page(interview_id, {"kind": "There is no such file"})
    return download(interview_id, kind)


@blp.route("/interviews/<uuid:interview_id>/files/transcript", methods=["POST"])
@staff_page("researcher")
def interview_transcript_upload(interview_id: uuid.UUID) -> Response:
    """A transcript pasted into the form (a longer one goes through the API, streamed)."""
    text = request.form.get("transcript", "").replace("\r\n", "\n")
    if not text.strip():
        return _page(interview_id, {"transcript": "Paste the de-identified transcript"})
    store(
        interview_id,
        TRANSCRIPT,
        TRANSCRIPT_MEDIA_TYPE,
        "PSAM_TRANSCRIPT_MAX_BYTES",
        [text.encode("utf-8")],
    )
    return redirect(url_for("staff.interview_files", interview_id=interview_id), code=303)  # type: ignore[return-value]


@blp.route("/interviews/<uuid:interview_id>/files/transcript/verify", methods=["POST"])
@staff_page("researcher")
def interview_transcript_verify(interview_id: uuid.UUID) -> Response:
    """Mark the transcript checked and de-identified: the recording's retention starts."""
    recordings.verify_transcript(get_session(), trail_of(current_principal()), interview_id)
    return redirect(url_for("staff.interview_files", interview_id=interview_id), code=303)  # type: ignore[return-value]


@blp.route("/exports/quotes", methods=["GET"])
@staff_page("analyst")
def quotes_export() -> Response:
    """Verified transcripts of those who agreed to quotes, under pseudonyms for this export."""
    return quotes_download()

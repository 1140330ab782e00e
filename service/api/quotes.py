"""The quotes export for analysts: verified transcripts of those who agreed to quotes."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, stream_with_context
from flask_smorest import Blueprint

from service.api.access import current_principal, refuse_head, requires_roles
from service.db import get_db, get_session
from service.resources import get_keys, ledger_writer
from service.services import quotes

blp = Blueprint("quotes", __name__, url_prefix="/api/v1/exports", description="For analysts")

QUOTES_EXAMPLE = (
    '{"participant": "PQ-3F9A61C2D0E4", "interview": "IQ-8B27E5D1C4A0", '
    '"transcript": "Interviewer: How were the first weeks? ..."}\n'
)


@blp.route("/quotes", methods=["GET"])
@requires_roles("analyst")
@blp.doc(
    responses={
        "200": {
            "description": "One line per verified transcript of a participant whose consent "
            "includes anonymised quotes, under pseudonyms drawn for this export alone; the "
            "X-Export-Id header names the manifest",
            "headers": {"X-Export-Id": {"schema": {"type": "string", "format": "uuid"}}},
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}, "example": QUOTES_EXAMPLE}
            },
        }
    }
)
def export_quotes() -> Response:
    """Verified interview transcripts for quotes, streamed, with a manifest."""
    return quotes_download()


def quotes_download() -> Response:
    """The quotes export as a streamed download (the console's quotes link answers with
    this too): the manifest and access log at its start, completed when the stream ends."""
    refuse_head()
    session, principal, keys = get_session(), current_principal(), get_keys()
    export = quotes.begin_quotes_export(session, ledger_writer(session), principal)

    def stream() -> Iterator[bytes]:
        completed = False
        reading = get_db().read_sessionmaker()
        try:
            yield from quotes.quotes_lines(reading, keys, export)
            completed = True
        finally:
            reading.close()
            quotes.finish_quotes_export(
                session, ledger_writer(session), principal, export, completed
            )

    response = Response(stream_with_context(stream()), content_type=quotes.MEDIA_TYPE)
    response.headers["X-Export-Id"] = str(export.id)
    response.headers["Content-Disposition"] = f'attachment; filename="quotes-{export.id}.ndjson"'
    return response

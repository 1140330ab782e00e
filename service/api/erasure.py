"""Running the erasure purge once the request that erased has committed."""

from __future__ import annotations

import logging

from flask import Response, after_this_request, current_app
from sqlalchemy.exc import SQLAlchemyError

from service.db import get_db
from service.services.erasure import purge_erasures

log = logging.getLogger(__name__)


def purge_after_commit() -> None:
    """Purge the erased rows from the database files after this request's commit (which
    comes before the after-request step), before its answer goes out."""
    wait = current_app.config["PSAM_PURGE_WAIT_SECONDS"]

    @after_this_request
    def purge(response: Response) -> Response:
        if response.status_code < 400:
            try:
                purge_erasures(get_db(), wait)
            except SQLAlchemyError as exc:
                # The erasure stands; the purge stays pending for `erasure purge` (cron).
                log.warning("erasure purge did not run: %s", type(exc).__name__)
        return response

"""The catalogue of problem types, so that every error's ``type`` URI leads somewhere."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from schemas.api import ProblemCatalogueSchema, ProblemTypeSchema
from service.api.access import public
from service.domain.errors import NotFoundError
from service.errors import CATALOGUE, ProblemType

blp = Blueprint("problems", __name__, url_prefix="/api/v1", description="Error types")


@blp.route("/problems", methods=["GET"])
@public
@blp.response(200, ProblemCatalogueSchema)
def list_problems() -> dict[str, Any]:
    """Every problem type this API answers with."""
    return {"problems": list(CATALOGUE.values())}


@blp.route("/problems/<code>", methods=["GET"])
@public
@blp.response(200, ProblemTypeSchema)
def get_problem(code: str) -> ProblemType:
    """What one problem type means."""
    if code not in CATALOGUE:
        raise NotFoundError(f"There is no problem type {code!r}.")
    return CATALOGUE[code]

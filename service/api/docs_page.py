"""The API's docs page: Swagger UI, served from the installed swagger-ui-bundle-v2 package.

Nothing on the page comes from another origin: the page of a health service must not run a
third-party script, and it must work where the service has no internet. The page has no
inline script (its initialiser is a file of its own), so it needs no exception in the
Content-Security-Policy that every answer carries.
"""

from __future__ import annotations

import functools
import mimetypes
from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Response, request, url_for

from service.api.access import public
from service.domain.errors import NotFoundError

SWAGGER_UI_DIR = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_UI_VERSION = SWAGGER_UI_DIR.name.removeprefix("swagger-ui-")
# The files the page loads; nothing else of the package is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})

# A Flask blueprint, not an API one: the page is not an operation of the API's document.
blp = Blueprint("docs", __name__, url_prefix="/api/v1/docs")

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Peer Support After Miscarriage: data capture API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{css}">
<link rel="icon" type="image/png" href="{icon}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""

# Read the document's address from the page, so the script is a constant file.
_INIT = """window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false
  });
});
"""


@blp.route("", methods=["GET"])
@public
def docs_page() -> Response:
    """The docs page (HTML), for people; clients read /api/v1/openapi.json."""
    page = _PAGE.format(
        css=url_for("docs.asset", name="swagger-ui.css"),
        icon=url_for("docs.asset", name="favicon-32x32.png"),
        bundle=url_for("docs.asset", name="swagger-ui-bundle.js"),
        init=url_for("docs.initialiser"),
        spec=url_for("api-docs.openapi_json"),
    )
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.route("/init.js", methods=["GET"])
@public
def initialiser() -> Response:
    """The page's one script of its own."""
    return Response(_INIT, mimetype="text/javascript")


@blp.route("/assets/<name>", methods=["GET"])
@public
def asset(name: str) -> Response:
    """A file of Swagger UI, from the installed package."""
    if name not in ASSETS:
        raise NotFoundError(f"The docs page has no file {name!r}.")
    response = Response(_asset_bytes(name), mimetype=mimetypes.guess_type(name)[0])
    response.headers["X-Swagger-UI-Version"] = SWAGGER_UI_VERSION
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.add_etag()
    response.make_conditional(request)  # a 304 for a copy the browser holds
    return response


@functools.cache
def _asset_bytes(name: str) -> bytes:
    # Held in memory (under 2 MB for the three files): no open file outlives a request.
    return (SWAGGER_UI_DIR / name).read_bytes()

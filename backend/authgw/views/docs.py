"""API documentation and discovery metadata, all public.

- ``GET /api/openapi.json``: the OpenAPI 3.1 document (``authgw.openapi``).
- ``GET /api/docs``: Swagger UI. Its files come from the ``flask-swagger-ui``
  distribution (Swagger UI's own ``dist`` folder, version in
  ``SWAGGER_UI_DIR/VERSION``) and are served from this origin under
  ``/api/docs/``; the page sends its own ``Content-Security-Policy`` (scripts,
  styles and connections from this origin only, no inline code), which the
  gateway keeps (docs/gateway.md).
- ``GET /.well-known/oauth-protected-resource``: RFC 9728 protected
  resource metadata.

docs/operations.md "API documentation" describes them.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from werkzeug.exceptions import NotFound

from ..bearer import public
from ..bulkhead import no_database
from ..extension import current_authgw

bp = Blueprint("docs", __name__)

#: Swagger UI's distributed files (swagger-ui-dist, packaged by flask-swagger-ui).
SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).with_name("dist")
#: The files of ``SWAGGER_UI_DIR`` the page uses; nothing else is served.
SWAGGER_UI_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-16x16.png", "favicon-32x32.png"})
#: Policy of the Swagger UI page and its files: this origin only, no inline
#: script; ``data:`` images are the inline SVG icons of Swagger UI's CSS.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
#: Seconds browsers may cache Swagger UI's files (they change only with the package).
ASSET_MAX_AGE = 3600

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>authgw API</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
"""

# No inline script (CSP); the token given to "Authorize" stays in the page's
# memory (persistAuthorization off), like the SPA keeps it.
_INIT_JS = """"use strict";
window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


def _docs_headers(response: Response, max_age: int | None = None) -> Response:
    response.headers["Content-Security-Policy"] = DOCS_CSP
    response.headers["Cache-Control"] = f"public, max-age={max_age}" if max_age else "no-cache"
    return response


@bp.get("/api/openapi.json")
@public
@no_database
def openapi_document():
    """``200`` the OpenAPI 3.1 document of the backend and the services behind the gateway."""
    # Imported here: apispec and the document's models (~2 MB) only in a
    # worker that is asked for the document.
    from ..openapi import document_for

    return jsonify(document_for(current_app._get_current_object())), {"Cache-Control": "no-cache"}


@bp.get("/api/docs")
@public
@no_database
def swagger_ui():
    """``200`` the Swagger UI page (HTML) reading ``/api/openapi.json``."""
    return _docs_headers(Response(_PAGE, mimetype="text/html"))


@bp.get("/api/docs/<path:filename>")
@public
@no_database
def swagger_asset(filename: str):
    """``200`` one of Swagger UI's files, or ``404 not_found``."""
    if filename == "init.js":
        return _docs_headers(Response(_INIT_JS, mimetype="text/javascript"))
    if filename not in SWAGGER_UI_FILES:
        raise NotFound("No such documentation file.")
    response = send_from_directory(SWAGGER_UI_DIR, filename, max_age=ASSET_MAX_AGE)
    return _docs_headers(response, ASSET_MAX_AGE)


@bp.get("/.well-known/oauth-protected-resource")
@public
@no_database
def protected_resource_metadata():
    """``200`` RFC 9728 §2 metadata: the resource (this origin), the
    authorization server that issues its tokens, header-only bearer tokens."""
    settings = current_authgw().settings
    metadata = jsonify(
        resource=settings.public_url,
        authorization_servers=[settings.jwt_issuer],
        bearer_methods_supported=["header"],
        jwks_uri=f"{settings.public_url}/.well-known/jwks.json",
        resource_name="authgw API",
        resource_documentation=f"{settings.public_url}/api/docs",
    )
    return metadata, {"Cache-Control": "public, max-age=300"}

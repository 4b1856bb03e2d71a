"""One JSON error format for every answer of the notes service.

``{"error": "<code>", "error_description": "<text>"}`` for Werkzeug's HTTP
errors (400, 404, 405, 413...) and database outages (503 with
``Retry-After``), never an HTML page (docs/notes.md, "Errors"). The kit's
own handler answers its token errors (401/403/503 with ``WWW-Authenticate``
or ``Retry-After``) in the same shape.
"""

from __future__ import annotations

import logging

from authgw_kit.errors import HTTP_ERROR_CODES as KIT_HTTP_ERROR_CODES
from authgw_kit.flask import json_error
from flask import Flask
from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db

log = logging.getLogger(__name__)

#: Error codes for Werkzeug's own exceptions: the kit's table (RFC 6749
#: words where they apply) with notes' own 403 and 415 words.
HTTP_ERROR_CODES = {**KIT_HTTP_ERROR_CODES, 403: "insufficient_scope", 415: "invalid_request"}

#: Seconds a client waits before retrying after a database outage answer.
RETRY_AFTER = 5


class InvalidRequest(HTTPException):
    """400 ``invalid_request``: the request body is not an acceptable note (RFC 6749 §5.2 wording)."""

    code = 400


class NotFound(HTTPException):
    """404 ``not_found``: no such note *of the caller* (another user's note is not revealed)."""

    code = 404
    description = "No such note."


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that give every error the JSON shape above."""

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        code = exc.code or 500
        headers = {name: value for name, value in exc.get_headers() if name.lower() in ("allow", "retry-after")}
        return json_error(code, HTTP_ERROR_CODES.get(code, "error"), exc.description or "", headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def handle_database_down(exc: Exception):
        log.warning("database unavailable: %s", exc.__class__.__name__)
        _rollback()
        return json_error(503, "service_unavailable", "The notes database is unreachable; retry shortly.",
                          {"Retry-After": str(RETRY_AFTER)})

    @app.errorhandler(DBAPIError)
    def handle_database_error(exc: DBAPIError):
        if exc.connection_invalidated:
            return handle_database_down(exc)
        _rollback()
        log.error("database error: %s", exc.__class__.__name__)
        return handle_http_error(InternalServerError("An unexpected error occurred."))

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error")
        return handle_http_error(InternalServerError("An unexpected error occurred."))


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is already gone; the session is discarded at teardown
        log.debug("rollback after a database error failed", exc_info=True)

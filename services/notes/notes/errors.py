"""One JSON error format for every answer of the notes service.

``{"error": "<code>", "error_description": "<text>"}`` for Werkzeug's HTTP
errors (400, 404, 405, 413...) and database outages (503 with
``Retry-After``), never an HTML page (docs/notes.md, "Errors"). The kit's
own handler answers its token errors (401/403/503 with ``WWW-Authenticate``
or ``Retry-After``) in the same shape.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db

log = logging.getLogger(__name__)

#: Error codes for Werkzeug's own exceptions (RFC 6749 words where they apply).
HTTP_ERROR_CODES = {
    400: "invalid_request",
    401: "invalid_token",
    403: "insufficient_scope",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
    413: "request_too_large",
    414: "uri_too_long",
    415: "invalid_request",
    431: "request_header_fields_too_large",
    500: "server_error",
    503: "service_unavailable",
}

#: Seconds a client waits before retrying after a database outage answer.
RETRY_AFTER = 5


class InvalidRequest(HTTPException):
    """400 ``invalid_request``: the request body is not an acceptable note (RFC 6749 §5.2 wording)."""

    code = 400


class NotFound(HTTPException):
    """404 ``not_found``: no such note *of the caller* (another user's note is not revealed)."""

    code = 404
    description = "No such note."


def error_response(status: int, code: str, description: str, headers: dict | None = None):
    """Build a JSON error answer.

    Args:
        status: HTTP status code.
        code: the ``error`` value, e.g. ``invalid_request``.
        description: the ``error_description`` value (never holds a token).
        headers: extra headers (``WWW-Authenticate``, ``Retry-After``, ``Allow``).

    Returns:
        flask.Response: ``status``, ``Content-Type: application/json``, ``Cache-Control: no-store``.
    """
    response = jsonify({"error": code, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that give every error the JSON shape above."""

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        code = exc.code or 500
        headers = {name: value for name, value in exc.get_headers() if name.lower() in ("allow", "retry-after")}
        return error_response(code, HTTP_ERROR_CODES.get(code, "error"), exc.description or "", headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def handle_database_down(exc: Exception):
        log.warning("database unavailable: %s", exc.__class__.__name__)
        _rollback()
        return error_response(503, "service_unavailable", "The notes database is unreachable; retry shortly.",
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

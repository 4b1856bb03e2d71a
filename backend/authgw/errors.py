"""One JSON error format for every answer (docs/interface.md, "Errors").

Maps Werkzeug's HTTP errors (404, 405, 413...), the service's typed
exceptions and database outages to ``{"error", "error_description"}``
bodies, keeping each exception's headers (``WWW-Authenticate``,
``Retry-After``).
"""

from __future__ import annotations

import json
import logging

from authgw_kit.errors import HTTP_ERROR_CODES as KIT_HTTP_ERROR_CODES
from flask import Flask
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .deadlocks import driver_error_number
from .exceptions import APIError, Conflict, RateLimited, ServiceUnavailable
from .extensions import db

log = logging.getLogger(__name__)

#: Error codes for Werkzeug's own exceptions: the kit's table (shared with
#: the notes service) and the backend's own statuses.
HTTP_ERROR_CODES = {
    **KIT_HTTP_ERROR_CODES,
    403: "forbidden",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    501: "not_implemented",
}


def json_error_response(exc: HTTPException):
    """Return ``exc`` as a JSON error response, keeping its headers.

    Args:
        exc: any Werkzeug HTTP exception.

    Returns:
        werkzeug.wrappers.Response: status ``exc.code``, JSON body.
    """
    if isinstance(exc, APIError):
        return exc.get_response()
    response = exc.get_response()
    code = exc.code or 500
    response.set_data(json.dumps({
        "error": HTTP_ERROR_CODES.get(code, "error"),
        "error_description": exc.description or "",
    }))
    response.headers["Content-Type"] = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that give every error the contract's JSON shape."""

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        if exc.code == 429 and not isinstance(exc, APIError):
            # Flask-Limiter's RateLimitExceeded: say when the window resets.
            return RateLimited(headers={"Retry-After": str(_seconds_until_reset())}).get_response()
        return json_error_response(exc)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def handle_database_down(exc: Exception):
        # The driver's error number (2013: lost connection, 1205: lock wait
        # timeout, 1213: deadlock), never its message, which may quote SQL.
        code = driver_error_number(exc)
        log.warning("database unavailable: %s %s", exc.__class__.__name__, "" if code is None else code)
        db.session.rollback()
        return ServiceUnavailable("The database is unreachable; retry shortly.",
                                  headers={"Retry-After": "5"}).get_response()

    @app.errorhandler(DBAPIError)
    def handle_database_error(exc: DBAPIError):
        db.session.rollback()
        if exc.connection_invalidated:
            return handle_database_down(exc)
        log.exception("database error")
        return json_error_response(_server_error())

    @app.errorhandler(IntegrityError)
    def handle_concurrent_write(exc: IntegrityError):
        # A unique key taken between a check and its insert by a concurrent
        # request (two registrations of one email, two roles of one name):
        # the same 409 the check gives. Any other constraint (NOT NULL, a
        # foreign key) is a bug: a 500 with its traceback.
        if not _is_unique_violation(exc):
            return handle_database_error(exc)
        db.session.rollback()
        log.warning("unique key taken by a concurrent write (%s)", _errno(exc))
        return Conflict("The request conflicts with a change made at the same time; reload and retry.").get_response()

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error")
        return json_error_response(_server_error())


#: MySQL/MariaDB ER_DUP_ENTRY: a unique key already holds the value.
MYSQL_DUPLICATE_ENTRY = 1062


def _errno(exc: IntegrityError):
    args = getattr(exc.orig, "args", ())
    return args[0] if args else None


def _is_unique_violation(exc: IntegrityError) -> bool:
    """Whether ``exc`` is a unique-key violation (MariaDB errno 1062, or
    SQLite's "UNIQUE constraint failed" in the unit tests)."""
    return _errno(exc) == MYSQL_DUPLICATE_ENTRY or str(exc.orig).startswith("UNIQUE constraint failed")


def _seconds_until_reset() -> int:
    """Seconds until the breached rate limit's window resets (at least 1)."""
    import time

    from .extensions import limiter

    current = limiter.current_limit
    if current is None:
        return 1
    return max(1, int(current.reset_at - time.time()) + 1)


def _server_error() -> HTTPException:
    from werkzeug.exceptions import InternalServerError

    return InternalServerError("An unexpected error occurred.")

"""JSON-lines logging with the request's ``X-Request-ID``.

The gateway sends ``X-Request-ID`` (its own or the client's sane value);
the service answers with the same header and puts the id in each log
line, so one request can be followed across the gateway's and the
services' logs. One ``request`` line per request (logger
``notes.request``: method, route, status, duration_ms, user_id; polled
health routes at DEBUG). Log lines never contain a token, a query string
or a header value other than that id (docs/operations.md "Logs").
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request

#: A request id we repeat: short, printable, no separators that could forge log fields.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Health routes polled by the supervisor and probes: their request lines are DEBUG.
QUIET_ROUTES = frozenset({"/healthz", "/readyz"})

request_log = logging.getLogger("notes.request")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request_id."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Send the root logger's records to stderr as JSON lines at ``level``."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def init_request_ids(app: Flask) -> None:
    """Give every request an id (the sane incoming ``X-Request-ID`` or a fresh one) and echo it."""

    @app.before_request
    def assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def echo_request_id(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        fields = {"method": request.method, "route": route, "path": request.path, "status": response.status_code,
                  "duration_ms": round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 2)}
        token = g.get("authgw_token")
        if token is not None:
            fields["user_id"] = token.subject
        quiet = route in QUIET_ROUTES and response.status_code < 400
        request_log.log(logging.DEBUG if quiet else logging.INFO, "request", extra={"fields": fields})
        return response

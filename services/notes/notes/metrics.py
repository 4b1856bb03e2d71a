"""Prometheus metrics of the notes service (docs/operations.md "Metrics").

Series: ``notes_http_requests_total{route,method,status}``,
``notes_http_request_duration_seconds{route,method}``,
``notes_token_checks_total{verdict}`` (valid, missing, invalid,
insufficient_scope, unavailable) and ``notes_db_pool_connections_in_use``.
Under gunicorn each worker writes them to ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client multiprocess mode) and the master serves them all on
``NOTES_METRICS_BIND`` (an internal address; empty = off): ``gunicorn.conf.py``
sets the folder and calls the kit's hook bodies (``authgw_kit.metrics``).
The gateway never routes ``/metrics``.
"""

from __future__ import annotations

import time

from authgw_kit import metrics as kit_metrics
from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge

#: Route label of requests that matched no route.
UNMATCHED_ROUTE = kit_metrics.UNMATCHED_ROUTE

HTTP_REQUESTS, HTTP_DURATION = kit_metrics.http_request_metrics("notes")
TOKEN_CHECKS = Counter("notes_token_checks_total",
                       "Token checks of protected requests by verdict: valid, missing, invalid, "
                       "insufficient_scope, unavailable.", ["verdict"])
DB_POOL_IN_USE = Gauge("notes_db_pool_connections_in_use", "Database connections checked out of the pool.",
                       multiprocess_mode="livesum")


def route_of_request() -> str:
    """The URL rule of the current request (``/api/notes/<int:note_id>``) or ``unmatched``."""
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE


def init_metrics(app: Flask) -> None:
    """Count every answer of ``app`` (requests, durations, token verdicts, pool use)."""
    from .extensions import db

    @app.before_request
    def start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        route = route_of_request()
        HTTP_REQUESTS.labels(route=route, method=request.method, status=str(response.status_code)).inc()
        HTTP_DURATION.labels(route=route, method=request.method).observe(
            time.perf_counter() - g.get("metrics_started", time.perf_counter()))
        if route.startswith("/api/"):
            if g.get("authgw_token") is not None:
                verdict = "insufficient_scope" if response.status_code == 403 else "valid"
            elif response.status_code == 401:
                verdict = "invalid" if request.headers.get("Authorization") else "missing"
            elif response.status_code == 503:
                verdict = "unavailable"
            else:
                verdict = None
            if verdict:
                TOKEN_CHECKS.labels(verdict=verdict).inc()
        pool = getattr(db.engine, "pool", None)
        if pool is not None and hasattr(pool, "checkedout"):
            DB_POOL_IN_USE.set(pool.checkedout())
        return response


# The /metrics listener and the gunicorn hook bodies are the kit's (shared
# with the backend, docs/kit.md "Metrics"):
# ``start_metrics_server(address)`` serves ``/metrics`` on ``(host, port)``
# in a thread (None: off) and raises OSError when it cannot bind.
start_metrics_server = kit_metrics.start_metrics_server

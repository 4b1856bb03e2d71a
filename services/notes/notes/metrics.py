"""Prometheus metrics of the notes service (docs/operations.md "Metrics").

Series: ``notes_http_requests_total{route,method,status}``,
``notes_http_request_duration_seconds{route,method}``,
``notes_token_checks_total{verdict}`` (valid, missing, invalid,
insufficient_scope, unavailable) and ``notes_db_pool_connections_in_use``.
Under gunicorn each worker writes them to ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client multiprocess mode) and the master serves them all on
``NOTES_METRICS_BIND`` (an internal address; empty = off) through the hooks
``on_starting_metrics``, ``when_ready`` and ``child_exit`` below, which
``gunicorn.conf.py`` imports. The gateway never routes ``/metrics``.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Route label of requests that matched no route.
UNMATCHED_ROUTE = "unmatched"

HTTP_REQUESTS = Counter("notes_http_requests_total", "Requests answered, by route template, method and status.",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram("notes_http_request_duration_seconds", "Time from the request to its answer, seconds.",
                          ["route", "method"],
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
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


def metrics_registry() -> CollectorRegistry:
    """Every process's series when ``PROMETHEUS_MULTIPROC_DIR`` is set, else this process's."""
    from prometheus_client import REGISTRY
    from prometheus_client.multiprocess import MultiProcessCollector

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def start_metrics_server(address: tuple[str, int] | None):
    """Serve ``/metrics`` on ``address`` (``(host, port)``) in a thread; None: off.

    Returns:
        the server and its thread, or None.

    Raises:
        OSError: the address cannot be bound.
    """
    if address is None:
        return None
    from prometheus_client import start_http_server

    host, port = address
    return start_http_server(port, addr=host, registry=metrics_registry())


# -- gunicorn hooks (gunicorn.conf.py: from notes.metrics import when_ready, child_exit) ------------


def prepare_multiprocess_dir() -> str:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary folder unless given)
    and empty it; call in gunicorn.conf.py before the workers start."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        import tempfile

        folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="notes-metrics-")
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))
    return folder


def when_ready(server) -> None:
    """gunicorn hook: serve the workers' metrics on ``NOTES_METRICS_BIND``."""
    from .config import load_settings

    address = load_settings().metrics_address
    if address is None:
        return
    try:
        start_metrics_server(address)
    except OSError as exc:  # serving notes matters more than their metrics
        server.log.error("metrics: cannot listen on %s:%d (%s)", *address, exc)
        return
    server.log.info("metrics on http://%s:%d/metrics", *address)


def child_exit(server, worker) -> None:
    """gunicorn hook: drop the live gauges of a worker that exited."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

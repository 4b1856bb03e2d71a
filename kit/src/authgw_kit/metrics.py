"""Serve a Flask service's Prometheus metrics from gunicorn (docs/kit.md, "Metrics").

Needs ``prometheus-client`` (``pip install './kit[metrics]'``); the rest of
the kit does not import this module.

Under gunicorn each worker is a process of its own, so its series are
written to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode) and the master serves all of them on an internal
address of their own, never on the public port::

    # gunicorn.conf.py
    from authgw_kit import metrics

    metrics.ensure_multiprocess_dir("myservice-metrics-")   # before any worker imports prometheus_client

    def on_starting(server):
        metrics.clear_multiprocess_dir()                     # series of a previous run are not ours

    def when_ready(server):
        metrics.serve_from_master(server, load_settings().metrics_address)

    def child_exit(server, worker):
        metrics.mark_worker_dead(worker)

Outside gunicorn (tests, ``flask run``) :func:`metrics_registry` is the
process's own registry.

prometheus-client chooses its storage when it is first imported, from
``PROMETHEUS_MULTIPROC_DIR``; this module therefore imports it only inside
the functions that need it, so ``gunicorn.conf.py`` can import this module
before it sets the variable.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from prometheus_client import CollectorRegistry, Counter, Histogram

#: The variable prometheus-client reads to find the multiprocess folder.
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: Route label of requests that matched no route (keeps the label set small).
UNMATCHED_ROUTE = "unmatched"
#: Buckets of the request-duration histogram, seconds (1 ms to 10 s).
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def http_request_metrics(namespace: str) -> tuple["Counter", "Histogram"]:
    """Create a service's two request series, in the default registry.

    - ``<namespace>_http_requests_total{route,method,status}``: answers by
      route template (e.g. ``/api/notes/<int:note_id>``, or
      :data:`UNMATCHED_ROUTE`), method and status code;
    - ``<namespace>_http_request_duration_seconds{route,method}``: time from
      the request to its answer, seconds (:data:`DURATION_BUCKETS`).

    Call it once per process, at import of the service's metrics module
    (after ``PROMETHEUS_MULTIPROC_DIR`` is set under gunicorn).

    Args:
        namespace: series name prefix, e.g. ``"notes"``.

    Returns:
        tuple[Counter, Histogram]: the requests counter and the duration histogram.

    Raises:
        ValueError: series of that namespace already exist in this process.
    """
    from prometheus_client import Counter, Histogram

    requests = Counter(f"{namespace}_http_requests_total", "Requests answered, by route template, method and status.",
                       ["route", "method", "status"])
    duration = Histogram(f"{namespace}_http_request_duration_seconds",
                         "Time from the request to its answer, seconds.", ["route", "method"],
                         buckets=DURATION_BUCKETS)
    return requests, duration


def metrics_registry() -> "CollectorRegistry":
    """Return the registry to expose.

    Returns:
        CollectorRegistry: every process's series in ``PROMETHEUS_MULTIPROC_DIR``
        when that variable is set (gunicorn), else this process's default
        registry.
    """
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if not os.environ.get(MULTIPROC_DIR_VARIABLE):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def start_metrics_server(address: tuple[str, int] | None) -> tuple[Any, Any] | None:
    """Serve ``/metrics`` (Prometheus text format) on ``address`` in a daemon thread.

    Args:
        address: ``(host, port)``, e.g. from
            :func:`authgw_kit.settings.bind_address`; None: metrics are off.

    Returns:
        tuple | None: the server and its thread (prometheus-client's
        ``start_http_server``), or None when off.

    Raises:
        OSError: the address is in use or cannot be bound.
    """
    if address is None:
        return None
    from prometheus_client import start_http_server

    host, port = address
    return start_http_server(port, addr=host, registry=metrics_registry())


def ensure_multiprocess_dir(prefix: str) -> str:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` to a fresh temporary folder unless it is set.

    Call it at the top of ``gunicorn.conf.py``, before any worker imports
    ``prometheus_client``.

    Args:
        prefix: name prefix of the temporary folder, e.g. ``"authgw-metrics-"``.

    Returns:
        str: the folder (created when it was made here).
    """
    folder = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if not folder:
        folder = os.environ[MULTIPROC_DIR_VARIABLE] = tempfile.mkdtemp(prefix=prefix)
    return folder


def clear_multiprocess_dir() -> str:
    """Create ``PROMETHEUS_MULTIPROC_DIR`` if missing and delete its ``*.db`` series files.

    Call it in gunicorn's ``on_starting`` hook (the master, once): files of
    a previous run would otherwise be served as ours.

    Returns:
        str: the folder.

    Raises:
        KeyError: ``PROMETHEUS_MULTIPROC_DIR`` is not set
            (:func:`ensure_multiprocess_dir` was not called).
    """
    folder = os.environ[MULTIPROC_DIR_VARIABLE]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))
    return folder


def serve_from_master(server: Any, address: tuple[str, int] | None, *, unavailable: str = "") -> bool:
    """gunicorn ``when_ready`` body: serve the workers' metrics on ``address``.

    A failed bind is logged and swallowed: serving the service matters more
    than its metrics.

    Args:
        server: gunicorn's arbiter (its ``log`` is used).
        address: ``(host, port)``, or None when metrics are off.
        unavailable: text appended to the error line when the address
            cannot be bound (e.g. ``"; no metrics from this instance"``).

    Returns:
        bool: True when the listener runs.
    """
    if address is None:
        return False
    try:
        start_metrics_server(address)
    except OSError as exc:
        server.log.error("metrics: cannot listen on %s:%d (%s)%s", *address, exc, unavailable)
        return False
    server.log.info("metrics on http://%s:%d/metrics", *address)
    return True


def mark_worker_dead(worker: Any) -> None:
    """gunicorn ``child_exit`` body: drop the live-process gauges of ``worker`` (it has a ``pid``)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


__all__ = ["MULTIPROC_DIR_VARIABLE", "UNMATCHED_ROUTE", "DURATION_BUCKETS", "http_request_metrics", "metrics_registry", "start_metrics_server", "ensure_multiprocess_dir",
           "clear_multiprocess_dir", "serve_from_master", "mark_worker_dead"]

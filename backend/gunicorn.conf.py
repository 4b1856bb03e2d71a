"""gunicorn settings for the backend (read by entrypoint.sh)."""

import os

from authgw_kit import metrics
from authgw_kit.gunicorn import json_error_pages, service_settings

# The settings every service behind the gateway shares (authgw_kit.gunicorn,
# docs/kit.md): one worker per usable core plus one (GUNICORN_WORKERS), four
# threads each (GUNICORN_THREADS), keep-alive 30 s, timeout 30 s, graceful
# 10 s, no control socket, no access log (nginx's job: its format never holds
# a token), gunicorn's largest request-line and header limits (so the
# gateway's 8 KiB buffers refuse over-long requests first, as JSON: found by
# scripts/fuzz-api, a 4 KiB query got gunicorn's HTML 414).
# docs/performance.md has the measurements behind these numbers.
globals().update(service_settings(bind=os.environ.get("BACKEND_BIND", "0.0.0.0:8000")))
# gunicorn's own answers (a request it cannot parse: non-ASCII request line,
# control character in a header value) in the JSON error shape, not HTML.
json_error_pages()

# Prometheus metrics (docs/operations.md "Metrics"): each worker writes its
# series to PROMETHEUS_MULTIPROC_DIR (prometheus-client multiprocess mode,
# emptied at start); the master serves them all on METRICS_BIND, an internal
# address only. Set before any worker imports prometheus_client.
metrics.ensure_multiprocess_dir("authgw-metrics-")


def on_starting(server):
    """Empty the metrics folder: series of a previous run are not ours."""
    metrics.clear_multiprocess_dir()


def when_ready(server):
    """Serve the workers' metrics on METRICS_BIND (off when empty); a failed bind is logged, the API still served."""
    from authgw.config import load_settings

    # The instance folder create_app uses (entrypoint.sh ran check-config already).
    address = load_settings(instance_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "instance")).metrics_address
    metrics.serve_from_master(server, address, unavailable="; no metrics from this instance")


def child_exit(server, worker):
    """Drop the live-process gauges of a worker that exited."""
    metrics.mark_worker_dead(worker)


def post_worker_init(worker):
    """Start this worker's revocation poller before it takes a request.

    Started lazily, the first token check of a worker would poll the database
    itself: with the database hung, that check (and every thread queued behind
    it) waits the read timeout, and the worker, holding no snapshot to trust,
    answers 503 even on token-only routes for the whole outage
    (docs/operations.md "Timeouts and fallbacks").
    """
    from authgw.extension import AuthGW

    AuthGW.of(worker.wsgi).revocation_feed.start()

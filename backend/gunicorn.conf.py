"""gunicorn settings for the backend (read by entrypoint.sh)."""

import os

bind = os.environ.get("BACKEND_BIND", "0.0.0.0:8000")
# One worker per usable core plus one, four threads each: the request path is
# CPU-bound Python (more processes only add context switches and memory),
# threads cover the waits on MariaDB, Redis and the OpenID provider.
# docs/performance.md has the measurements behind these numbers.
workers = int(os.environ.get("GUNICORN_WORKERS", len(os.sched_getaffinity(0)) + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 30  # seconds; nginx keeps upstream connections open
timeout = 30
graceful_timeout = 10
control_socket_disable = True  # gunicorn 27: no control socket (read-only images, several instances)
# Access logging is nginx's job (its format never holds a token); gunicorn's
# default format would include query strings.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn answers an over-long request line or header itself, in HTML; with
# its largest limits the gateway (8 KiB buffers) refuses such requests first,
# as JSON (found by scripts/fuzz-api: a 4 KiB query got gunicorn's HTML 414).
limit_request_line = 8190
limit_request_field_size = 32768

# Prometheus metrics (docs/operations.md "Metrics"): each worker writes its
# series to PROMETHEUS_MULTIPROC_DIR (prometheus-client multiprocess mode,
# emptied at start); the master serves them all on METRICS_BIND, an internal
# address only. Set before any worker imports prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="authgw-metrics-")


def on_starting(server):
    """Empty the metrics folder: series of a previous run are not ours."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))


def when_ready(server):
    """Serve the workers' metrics on METRICS_BIND (off when empty)."""
    from authgw.config import load_settings
    from authgw.observability import start_metrics_server

    # The instance folder create_app uses (entrypoint.sh ran check-config already).
    address = load_settings(instance_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "instance")).metrics_address
    if address is None:
        return
    try:
        start_metrics_server(address)
    except OSError as exc:  # serving the API matters more than its metrics
        server.log.error("metrics: cannot listen on %s:%d (%s); no metrics from this instance", *address, exc)
        return
    server.log.info("metrics on http://%s:%d/metrics", *address)


def child_exit(server, worker):
    """Drop the live-process gauges of a worker that exited."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


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

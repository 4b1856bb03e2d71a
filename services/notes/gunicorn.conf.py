"""gunicorn settings of the notes service.

Run from this folder: ``gunicorn --config gunicorn.conf.py "notes:create_app()"``.
Before any worker starts, the master validates the settings (every problem
listed, exit 2), waits for the database (``NOTES_DATABASE_WAIT`` seconds)
and applies the migrations, so replicas never serve an old schema; with
``NOTES_METRICS_BIND`` set it then serves the workers' metrics there.
"""

import os
import sys

from authgw_kit import metrics
from authgw_kit.gunicorn import json_error_pages, service_settings

# The settings every service behind the gateway shares (authgw_kit.gunicorn,
# docs/kit.md): one worker per usable core plus one, four threads each (the
# same reasoning as the backend's, docs/performance.md), keep-alive 30 s, no
# control socket, no access log (the gateway's job: its format never holds a
# token), and gunicorn's largest request-line and header limits: gunicorn
# answers over-long header fields itself, in HTML (431), so these leave room
# for any header the kit must judge (tokens up to 8192 bytes are checked,
# longer ones refused as JSON 401 by the kit); only absurd headers (over
# 32 KiB, never sent through the gateway) get gunicorn's own answer.
globals().update(service_settings(bind=os.environ.get("NOTES_BIND", "127.0.0.1:8200")))
# gunicorn's own answers (a request it cannot parse: non-ASCII request line,
# control character in a header value) in the JSON error shape, not HTML.
json_error_pages()
# Worker heartbeat files in memory: works with a read-only root filesystem
# (containers) and never waits on a slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Prometheus metrics (docs/operations.md "Metrics"), only when
# NOTES_METRICS_BIND is set: each worker writes its series to
# PROMETHEUS_MULTIPROC_DIR (prometheus-client multiprocess mode, emptied at
# start), the master serves them all on that internal address (the kit's hook
# bodies, authgw_kit.metrics). Set before any worker imports prometheus_client.
METRICS = bool(os.environ.get("NOTES_METRICS_BIND"))
if METRICS:
    metrics.ensure_multiprocess_dir("notes-metrics-")


def on_starting(server):
    """Check the settings and migrate the database once, in the master."""
    from sqlalchemy.exc import OperationalError

    from notes.config import ConfigError, load_settings
    from notes.database import prepare_database

    try:
        settings = load_settings()
    except ConfigError as exc:
        exc.report(sys.stderr)
        sys.exit(2)
    try:
        prepare_database(settings.database_url, settings.database_wait)
    except OperationalError as exc:
        print(f"notes: the database did not answer within {settings.database_wait} s "
              f"({exc.orig.__class__.__name__ if exc.orig else 'error'})", file=sys.stderr)
        sys.exit(1)
    if METRICS:
        metrics.clear_multiprocess_dir()  # series of a previous run are not ours


def when_ready(server):
    """Serve the workers' metrics on NOTES_METRICS_BIND (a failed bind is logged, notes still served)."""
    if METRICS:
        from notes.config import load_settings

        metrics.serve_from_master(server, load_settings().metrics_address)


def child_exit(server, worker):
    """Drop the live gauges of a worker that exited."""
    if METRICS:
        metrics.mark_worker_dead(worker)


def post_worker_init(worker):
    """Fetch the JWK Set and start the revocation poller before this worker takes a request.

    Left to the first request, a worker started while the backend hangs would
    make that request (and every thread queued behind the kit's lock) wait
    for the fetches, then answer 503 for the whole outage, holding nothing to
    trust (docs/operations.md "Timeouts and fallbacks"). A failed fetch here
    is retried by the kit as before.
    """
    from authgw_kit.errors import VerifierUnavailable
    from authgw_kit.flask import EXTENSION_KEY

    verifier = worker.wsgi.extensions[EXTENSION_KEY].verifier
    try:
        if hasattr(verifier.keys, "get_jwk_set"):  # a JWKSClient (static keys need no fetch)
            verifier.keys.get_jwk_set()
    except VerifierUnavailable:
        worker.log.warning("notes: JWK Set not fetched at start; fetched on first use")
    verifier.revocations.start()

"""Request ids, JSON logs and Prometheus metrics of the backend.

- **Request ids**: every request gets the sane ``X-Request-ID`` it came
  with (the gateway always sends one) or a fresh one; the answer repeats it
  and every log line of the request carries it as ``request_id``.
- **Logs** (structlog over the standard library, so every logger of the
  process is formatted alike): ``LOG_FORMAT=json`` writes one JSON object
  per line, ``console`` readable lines. One ``request`` line per request
  (request id, method, route, status, duration, user id) and one
  ``security_event`` line per audit event. Never a token, code, state,
  cookie, query string or secret.
- **Metrics** (prometheus-client): the series of docs/operations.md
  "Metrics", collected per process. Under gunicorn they live in
  ``PROMETHEUS_MULTIPROC_DIR`` (multiprocess mode) and the master serves
  them on ``METRICS_BIND`` (``gunicorn.conf.py`` calls
  ``start_metrics_server``); the public origin never serves them.

docs/operations.md describes the log fields, the series and example queries.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING

import structlog
from authgw_kit import metrics as kit_metrics
from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge

if TYPE_CHECKING:  # pragma: no cover
    from authgw_kit import TokenVerifier

#: A client request id we repeat (the gateway's rule, docs/gateway.md):
#: short, printable, nothing that could forge a log field.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Route label of requests that matched no route (keeps the label set small).
UNMATCHED_ROUTE = kit_metrics.UNMATCHED_ROUTE
#: Routes polled every second by gateways, services and health checks: their
#: request lines are logged at DEBUG so INFO logs stay readable.
QUIET_ROUTES = frozenset({"/api/internal/revocations", "/api/health", "/api/health/ready"})
#: Seconds between two updates of the per-process gauges (feed age, pool).
GAUGE_INTERVAL = 5.0

log = structlog.get_logger("authgw.request")
security_log = structlog.get_logger("authgw.security")

# -- metrics ------------------------------------------------------------------------

# authgw_http_requests_total{route,method,status} and
# authgw_http_request_duration_seconds{route,method}, as every service of the kit names them.
HTTP_REQUESTS, HTTP_DURATION = kit_metrics.http_request_metrics("authgw")
TOKEN_CHECKS = Counter("authgw_token_checks_total",
                       "Access-token checks by verdict: valid, missing, invalid, expired, revoked, unavailable.",
                       ["verdict"])
REFRESH_OUTCOMES = Counter("authgw_refresh_total",
                           "Refresh-token presentations by outcome: rotated, grace, reuse, expired, disabled, unknown.",
                           ["outcome"])
RATE_LIMITED = Counter("authgw_rate_limited_total", "Requests refused with 429, by route template.", ["route"])
SECURITY_EVENTS = Counter("authgw_security_events_total", "Audit events committed, by event.", ["event"])
FEED_AGE = Gauge("authgw_revocation_feed_age_seconds",
                 "Seconds since this process last read the revocation feed (the oldest process; -1: never).",
                 multiprocess_mode="livemax")
DB_POOL_IN_USE = Gauge("authgw_db_pool_connections_in_use", "Database connections checked out of the pool.",
                       multiprocess_mode="livesum")
DB_POOL_SIZE = Gauge("authgw_db_pool_size", "Connections the pool keeps open.", multiprocess_mode="livesum")

_verdict = threading.local()


def count_refresh(outcome: str) -> None:
    """Count one refresh-token presentation (``sessions.rotate_refresh_token``).

    Args:
        outcome: ``rotated`` (a new token), ``grace`` (the same successor
            again inside the grace window), ``reuse`` (a spent token after
            it: the session is revoked), ``expired`` (expired or revoked
            session), ``disabled`` (inactive account), ``unknown`` (no such
            token).
    """
    REFRESH_OUTCOMES.labels(outcome=outcome).inc()


# -- logs -----------------------------------------------------------------------------

_HANDLER_NAME = "authgw"


def configure_logging(level: str, log_format: str, stream=None) -> None:
    """Format every log record of the process as JSON lines or readable lines.

    Args:
        level: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``.
        log_format: ``json`` (one object per line: ``timestamp``, ``level``,
            ``logger``, ``event`` and the fields) or ``console``.
        stream: where lines go (a text file); None: standard error.
    """
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (structlog.processors.JSONRenderer() if log_format == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.processors.format_exc_info],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer])
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)


# -- the request hooks -----------------------------------------------------------------


def init_observability(app: Flask) -> None:
    """Install the request-id, request-log and metrics hooks on ``app``.

    Call it before any other ``before_request`` hook (``create_app`` does),
    so a request refused by the token check still has its id. Also counts
    token-check verdicts (``instrument_verifier``) and logs audit events
    when their transaction commits (``log_security_events``).
    """
    from .extension import AuthGW
    from .extensions import db

    state = AuthGW.of(app)
    instrument_verifier(state.verifier)
    log_security_events()
    gauges = _ProcessGauges(state.revocation_feed, lambda: db.engine)

    @app.before_request
    def start_request():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)
        gauges.ensure_running()

    @app.after_request
    def finish_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        duration = time.perf_counter() - g.get("request_started", time.perf_counter())
        HTTP_REQUESTS.labels(route=route, method=request.method, status=str(response.status_code)).inc()
        HTTP_DURATION.labels(route=route, method=request.method).observe(duration)
        if response.status_code == 429:
            RATE_LIMITED.labels(route=route).inc()
        claims = g.get("token_claims") or {}
        if response.status_code == 401 and not request.headers.get("Authorization") \
                and response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
            TOKEN_CHECKS.labels(verdict="missing").inc()
        fields = {"method": request.method, "route": route, "path": request.path, "status": response.status_code,
                  "duration_ms": round(duration * 1000, 2)}
        if claims.get("sub"):
            fields["user_id"] = claims["sub"]
        if claims.get("client_id"):
            fields["client_id"] = claims["client_id"]
        if route in QUIET_ROUTES and response.status_code < 400:
            log.debug("request", **fields)
        else:
            log.info("request", **fields)
        return response

    @app.teardown_request
    def forget_request(exc):
        structlog.contextvars.clear_contextvars()


def instrument_verifier(verifier: "TokenVerifier") -> None:
    """Count each verdict of ``verifier`` in ``authgw_token_checks_total``.

    Wraps the instance's ``verify`` and its revocation list's ``check`` (the
    kit has no hook): ``valid``, ``expired``, ``revoked`` (refused by the
    revocation rules), ``invalid`` (any other refusal), ``unavailable``
    (no fresh revocation list: 503). Idempotent.
    """
    import authgw_kit as kit

    if getattr(verifier, "_authgw_instrumented", False):
        return
    verify, revocations = verifier.verify, verifier.revocations
    check = revocations.check

    def counted_check(claims):
        try:
            return check(claims)
        except kit.InvalidToken:
            _verdict.revoked = True
            raise

    def counted_verify(token):
        _verdict.revoked = False
        try:
            result = verify(token)
        except kit.ExpiredToken:
            TOKEN_CHECKS.labels(verdict="expired").inc()
            raise
        except kit.InvalidToken:
            TOKEN_CHECKS.labels(verdict="revoked" if _verdict.revoked else "invalid").inc()
            raise
        except kit.VerifierUnavailable:
            TOKEN_CHECKS.labels(verdict="unavailable").inc()
            raise
        TOKEN_CHECKS.labels(verdict="valid").inc()
        return result

    revocations.check = counted_check
    verifier.verify = counted_verify
    verifier._authgw_instrumented = True


_security_listeners_installed = False


def log_security_events() -> None:
    """Log (``security_event``) and count each audit event when the
    transaction that holds it commits; a rolled-back event is not logged.

    Fields: ``audit_event``, ``user_id``, ``actor_id``, ``ip`` and the
    event's details (which never hold a token, audit.py). Installed once
    per process on SQLAlchemy's ``Session`` events.
    """
    global _security_listeners_installed
    if _security_listeners_installed:
        return
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from .models import AuditEvent

    def collect(session, flush_context):
        pending = [obj for obj in session.new if isinstance(obj, AuditEvent)]
        if pending:
            session.info.setdefault("authgw_audit", []).extend(pending)

    def emit(session):
        for row in session.info.pop("authgw_audit", ()):
            SECURITY_EVENTS.labels(event=row.event).inc()
            security_log.info("security_event", audit_event=row.event,
                              user_id=None if row.user_id is None else str(row.user_id),
                              actor_id=None if row.actor_id is None else str(row.actor_id),
                              ip=row.ip or None, details=row.details or {})

    def forget(session):
        session.info.pop("authgw_audit", None)

    sa.event.listen(Session, "after_flush", collect)
    sa.event.listen(Session, "after_commit", emit)
    sa.event.listen(Session, "after_soft_rollback", lambda session, previous: forget(session))
    _security_listeners_installed = True


class _ProcessGauges:
    """Refresh this process's gauges (feed age, pool use) every ``GAUGE_INTERVAL``
    seconds in a daemon thread, started in each gunicorn worker after the fork."""

    def __init__(self, feed, engine):
        self.feed = feed
        self.engine = engine
        self.pid: int | None = None
        self.lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start the thread once per process (needs an application context)."""
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            engine = self.engine()
            threading.Thread(target=self._run, args=(engine,), name="authgw-gauges", daemon=True).start()

    def update(self, engine) -> None:
        age = self.feed.age()
        FEED_AGE.set(-1 if age is None else age)
        pool = getattr(engine, "pool", None)
        if pool is not None and hasattr(pool, "checkedout"):
            DB_POOL_IN_USE.set(pool.checkedout())
            DB_POOL_SIZE.set(pool.size() if hasattr(pool, "size") else 0)

    def _run(self, engine) -> None:
        while True:
            try:
                self.update(engine)
            except Exception:  # a gauge must never take the worker down
                logging.getLogger(__name__).warning("metrics gauges update failed", exc_info=True)
            time.sleep(GAUGE_INTERVAL)


# -- the metrics listener ----------------------------------------------------------------

# The ``/metrics`` listener is the kit's, shared with the notes service:
# ``start_metrics_server(address)`` takes ``Settings.metrics_address``
# (``METRICS_BIND``, 127.0.0.1 in the native stack; None: off) and raises
# OSError when the address cannot be bound (docs/kit.md, "Metrics").
start_metrics_server = kit_metrics.start_metrics_server

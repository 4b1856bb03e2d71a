"""The revocation feed: which sessions were revoked recently.

A revoked session's access tokens must be refused within 5 s
(docs/interface.md, "Tokens"), long before their ``exp``. Each worker keeps the
ids of sessions revoked in the last ``window`` seconds (an access token
older than that has expired anyway) and refreshes them from the
``sessions.revoked_at`` index at most once per ``refresh_interval``: one
small query per worker per second, whatever the number of sessions or
requests. When the database cannot be read for ``max_staleness`` seconds
the feed fails closed (``ServiceUnavailable``).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from .clock import utcnow
from .exceptions import ServiceUnavailable
from .models import Session


def read_snapshot(connection, window: float, now=None) -> dict:
    """Read the revocation snapshot that gateways and services poll.

    The shape of ``GET /api/internal/revocations`` (docs/login-and-tokens.md
    "The revocation feed"): a full snapshot, never a diff, so that a poller
    needs no clock agreement with this host.

    Args:
        connection: SQLAlchemy connection (its own, outside any request
            transaction).
        window: seconds covered: a revocation older than this concerns
            only expired tokens (access-token TTL + leeway).
        now: aware UTC datetime (default ``utcnow()``).

    Returns:
        dict: ``{"generated_at": float, "window": int, "sessions": {sid:
        revoked_at}, "subjects": {sub: not_before}, "roles": {role:
        not_before}}``; times are Unix seconds (ints except
        ``generated_at``).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    now = now or utcnow()
    since = now - timedelta(seconds=window)
    rows = connection.execute(
        sa.select(Session.id, Session.revoked_at).where(Session.revoked_at >= since)
    ).all()
    return {
        "generated_at": now.timestamp(),
        "window": int(window),
        "sessions": {sid: int(revoked_at.timestamp()) for sid, revoked_at in rows},
        "subjects": {},
        "roles": {},
    }

log = logging.getLogger(__name__)

#: Re-read revocations before this margin, in seconds, to cover clock skew
#: between backend hosts and transactions committed out of order.
OVERLAP_SECONDS = 5.0


class RevocationFeed:
    """Per-process set of recently revoked session ids.

    Args:
        window: seconds a revocation matters (access-token TTL + leeway).
        refresh_interval: seconds between two reads of the database.
        max_staleness: seconds without a successful read after which every
            check raises ``ServiceUnavailable``.
    """

    def __init__(self, window: float, refresh_interval: float = 1.0, max_staleness: float = 4.0):
        self.window = window
        self.refresh_interval = refresh_interval
        self.max_staleness = max_staleness
        self._revoked: dict[str, float] = {}  # sid -> revoked_at (Unix seconds)
        self._since = None  # datetime of the newest revocation read, minus overlap
        self._last_success = float("-inf")  # monotonic seconds
        self._last_attempt = float("-inf")
        self._lock = threading.Lock()

    def is_revoked(self, session_id: str, engine) -> bool:
        """Tell whether ``session_id`` was revoked.

        Args:
            session_id: the token's ``sid``.
            engine: SQLAlchemy engine read when a refresh is due.

        Returns:
            bool: True if revoked within the window.

        Raises:
            ServiceUnavailable: the feed is stale (database unreachable).
        """
        self._maybe_refresh(engine)
        return session_id in self._revoked

    def add(self, session_id: str) -> None:
        """Record a revocation made by this process, effective at once."""
        self._revoked[session_id] = time.time()

    def _stale(self) -> bool:
        return time.monotonic() - self._last_success > self.max_staleness

    def _maybe_refresh(self, engine) -> None:
        # One thread refreshes while the others go on with the current set;
        # but while the feed is stale (at start-up, or after an outage) every
        # thread waits for the refresh under way instead of failing at once.
        if time.monotonic() - self._last_attempt >= self.refresh_interval or self._stale():
            stale = self._stale()
            if self._lock.acquire(blocking=stale, timeout=self.max_staleness if stale else -1):
                try:
                    if time.monotonic() - self._last_attempt >= self.refresh_interval:
                        self._last_attempt = time.monotonic()
                        self._refresh(engine)
                        self._last_success = time.monotonic()
                except SQLAlchemyError as exc:
                    log.warning("revocation feed refresh failed: %s", exc.__class__.__name__)
                finally:
                    self._lock.release()
        if self._stale():
            raise ServiceUnavailable("Cannot check token revocation: the database is unreachable.",
                                     headers={"Retry-After": "5"})

    def _refresh(self, engine) -> None:
        current = utcnow()
        since = self._since or (current - timedelta(seconds=self.window))
        # Own pooled connection: never touches the request's transaction.
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(Session.id, Session.revoked_at).where(Session.revoked_at >= since)
            ).all()
        for sid, revoked_at in rows:
            self._revoked[sid] = revoked_at.timestamp()
        self._since = current - timedelta(seconds=OVERLAP_SECONDS)
        cutoff = time.time() - self.window
        self._revoked = {sid: ts for sid, ts in self._revoked.items() if ts >= cutoff}

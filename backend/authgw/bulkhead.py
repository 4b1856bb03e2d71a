"""The database bulkhead: a hung database never takes token-only routes with it.

Every view uses the database unless it is marked ``@no_database`` (the
token-only routes: ``/api/ping``, health, the JWK Set...). A worker process
runs at most ``DB_CONCURRENCY`` database-using requests at once (default:
gunicorn's threads per worker minus one, so one thread always stays free
for token-only routes). When every slot is taken:

- while the slots' holders are quick (a healthy database under load), the
  request waits for a slot up to ``DATABASE_POOL_TIMEOUT`` seconds;
- when a holder has been at it longer than ``SLOW_SECONDS`` (the database
  is hung or very slow), the request is refused at once with ``503
  service_unavailable`` and ``Retry-After``, instead of tying up one more
  thread for seconds.

Numbers and the fault tests: docs/operations.md "Timeouts and fallbacks".
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Callable

import sqlalchemy as sa
from flask import Flask, g, request

from .exceptions import ServiceUnavailable
from .extensions import db

#: A slot held longer than this (seconds) marks the database as slow: refuse at once. It
#: is the default DATABASE_READ_TIMEOUT: a healthy request of a starved process (2
#: cores shared by many) can hold its slot for half a second, and refusing then gave
#: spurious 503s under a steady load (docs/performance.md "Soak").
SLOW_SECONDS = 1.0
#: A request waiting for a slot re-checks the holders this often (seconds).
WAIT_STEP_SECONDS = 0.05
#: After the database dropped or timed out a connection, database-using requests are
#: refused at once for this long (seconds); then one may try again (circuit breaker).
OPEN_SECONDS = 1.0


def no_database(view: Callable) -> Callable:
    """Mark a view as not using the database: the bulkhead never holds it back."""
    view.needs_database = False
    return view


class DatabaseBulkhead:
    """Bound the database-using requests of one worker process.

    Args:
        limit: concurrent database-using requests (>= 1).
        wait: seconds a request may wait for a slot while the database is
            healthy (``DATABASE_POOL_TIMEOUT``).
        clock: monotonic seconds (tests).
    """

    def __init__(self, limit: int, wait: float, clock: Callable[[], float] = time.monotonic):
        if limit < 1:
            raise ValueError("the bulkhead needs at least one slot")
        self.limit = limit
        self.wait = wait
        self._clock = clock
        self._slots = threading.BoundedSemaphore(limit)
        self._held: dict[int, float] = {}  # id of the holding request -> when it got its slot
        self._lock = threading.Lock()
        self._tickets = itertools.count(1)
        self._failed_at: float | None = None  # last lost or timed-out database connection

    def trip(self) -> None:
        """Record that the database just dropped or timed out a connection: refuse for ``OPEN_SECONDS``."""
        self._failed_at = self._clock()

    def is_open(self) -> bool:
        """Tell whether database-using requests are refused at once after a recent failure."""
        failed_at = self._failed_at
        return failed_at is not None and self._clock() - failed_at < OPEN_SECONDS

    def in_use(self) -> int:
        """How many slots are held now (metrics)."""
        return len(self._held)

    def acquire(self) -> int:
        """Take a slot; return a ticket for ``release``.

        Raises:
            ServiceUnavailable: the database failed a moment ago, or no
                slot: the database is slow (refused at once) or stayed busy
                for ``wait`` seconds.
        """
        if self.is_open() or not self._slots.acquire(blocking=False) and not self._wait_for_slot():
            raise ServiceUnavailable("The database is not answering; retry shortly.",
                                     headers={"Retry-After": "5"})
        with self._lock:
            ticket = next(self._tickets)
            self._held[ticket] = self._clock()
        return ticket

    def release(self, ticket: int) -> None:
        """Give back the slot of ``ticket`` (idempotent)."""
        with self._lock:
            if self._held.pop(ticket, None) is None:
                return
        self._slots.release()

    def _wait_for_slot(self) -> bool:
        # Short steps, each re-judging the holders: once the oldest turns slow
        # (the database hung while we waited) stop at once. A waiter holds a
        # gunicorn thread, the one token-only routes need, so it must not keep
        # it for the whole ``wait``, nor take a slot only to hang on the
        # database after waiting.
        deadline = time.monotonic() + self.wait
        while self._oldest_age() <= SLOW_SECONDS and not self.is_open():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._slots.acquire(timeout=min(remaining, WAIT_STEP_SECONDS)):
                return True
        return False

    def _on_database_error(self, context) -> None:
        # Only a dropped or timed-out connection says the database is gone;
        # a deadlock or a constraint error is the statement's own business.
        # The pool's pre-ping finding a dead pooled connection (the database
        # restarted) is not either: the pool reconnects, and if that fails
        # too, the failed connect trips the breaker.
        if context.is_disconnect and not context.is_pre_ping:
            self.trip()

    def _oldest_age(self) -> float:
        with self._lock:
            return self._clock() - min(self._held.values()) if self._held else 0.0

    def init_app(self, app: Flask) -> None:
        """Hold a slot around every database-using request of ``app``; trip on a lost connection.

        Every lost or timed-out connection of the application's engine
        (requests, the pool's pre-ping, the revocation poller) trips the
        breaker: without it, a request that got a slot just as a failing
        one gave it back would wait for the database all over again.
        """
        with app.app_context():
            sa.event.listen(db.engine, "handle_error", self._on_database_error)

        @app.before_request
        def _take_slot():
            view = app.view_functions.get(request.endpoint) if request.endpoint else None
            if view is None or not getattr(view, "needs_database", True):
                return
            g.bulkhead_ticket = self.acquire()

        @app.teardown_request
        def _give_back(_exc=None):
            ticket = g.pop("bulkhead_ticket", None)
            if ticket is not None:
                self.release(ticket)

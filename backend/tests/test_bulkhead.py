"""The database bulkhead (``authgw.bulkhead``): a hung database leaves token-only routes answering."""

from __future__ import annotations

import threading
import time

import pytest

from authgw.bulkhead import SLOW_SECONDS, DatabaseBulkhead
from authgw.exceptions import ServiceUnavailable
from authgw.extension import AuthGW


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_free_slot_is_taken_and_given_back():
    bulkhead = DatabaseBulkhead(limit=1, wait=0.01)
    ticket = bulkhead.acquire()
    assert bulkhead.in_use() == 1
    bulkhead.release(ticket)
    bulkhead.release(ticket)  # idempotent
    assert bulkhead.in_use() == 0
    bulkhead.release(bulkhead.acquire())


def test_a_busy_healthy_bulkhead_waits_at_most_its_wait_then_refuses():
    bulkhead = DatabaseBulkhead(limit=1, wait=0.2)
    bulkhead.acquire()
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as refused:
        bulkhead.acquire()
    assert 0.15 <= time.monotonic() - started < 1.0
    assert refused.value.extra_headers["Retry-After"]


def test_a_slow_holder_makes_the_next_request_fail_at_once():
    clock = Clock()
    bulkhead = DatabaseBulkhead(limit=1, wait=5.0, clock=clock)
    bulkhead.acquire()
    clock.now += SLOW_SECONDS + 0.1
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        bulkhead.acquire()
    assert time.monotonic() - started < 0.1


def test_with_every_slot_stuck_token_only_routes_answer_and_database_routes_get_503(app, client, signed_in):
    bulkhead = AuthGW.of(app).bulkhead
    tickets = [bulkhead.acquire() for _ in range(bulkhead.limit)]
    bulkhead._held = {ticket: time.monotonic() - 10 for ticket in tickets}  # stuck for 10 s
    try:
        assert client.get("/api/ping", headers=signed_in.auth).status_code == 200
        assert client.get("/api/health").status_code == 200
        started = time.monotonic()
        response = client.get("/api/me", headers=signed_in.auth)
        assert response.status_code == 503 and response.get_json()["error"] == "service_unavailable"
        assert response.headers["Retry-After"] and time.monotonic() - started < 0.5
    finally:
        for ticket in tickets:
            bulkhead.release(ticket)
    assert client.get("/api/me", headers=signed_in.auth).status_code == 200


def test_a_request_without_a_valid_token_takes_no_slot(app, client):
    bulkhead = AuthGW.of(app).bulkhead
    assert client.get("/api/me").status_code == 401
    assert bulkhead.in_use() == 0


def test_ready_reports_each_dependency(client):
    body = client.get("/api/health/ready").get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["redis"] == "not_used"
    assert set(body["revocation_feed"]) == {"status", "age_seconds", "trust_window"}


def test_a_waiting_request_gives_up_as_soon_as_the_holder_turns_slow():
    # Waiting keeps a gunicorn thread busy: once the database is known to be
    # hung, the waiter must let go at once, not after its whole wait.
    clock = Clock()
    bulkhead = DatabaseBulkhead(limit=1, wait=5.0, clock=clock)
    bulkhead.acquire()
    timer = threading.Timer(0.2, lambda: setattr(clock, "now", clock.now + SLOW_SECONDS + 0.1))
    timer.start()
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        bulkhead.acquire()
    assert 0.15 <= time.monotonic() - started < 0.6
    timer.join()


def test_a_lost_database_connection_refuses_database_requests_at_once_for_a_moment():
    from authgw.bulkhead import OPEN_SECONDS

    clock = Clock()
    bulkhead = DatabaseBulkhead(limit=3, wait=5.0, clock=clock)
    bulkhead.trip()
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        bulkhead.acquire()
    assert time.monotonic() - started < 0.1 and bulkhead.in_use() == 0
    clock.now += OPEN_SECONDS + 0.01
    bulkhead.release(bulkhead.acquire())


def test_a_timed_out_database_connection_trips_the_breaker(app):
    import sqlalchemy as sa

    bulkhead = AuthGW.of(app).bulkhead
    assert not bulkhead.is_open()

    class Context:
        is_disconnect = False
        is_pre_ping = False

    bulkhead._on_database_error(Context())
    assert not bulkhead.is_open(), "a statement's own error (deadlock, constraint) must not trip it"
    Context.is_disconnect = Context.is_pre_ping = True
    bulkhead._on_database_error(Context())
    assert not bulkhead.is_open(), "a dead pooled connection found by the pre-ping must not trip it"
    Context.is_pre_ping = False
    bulkhead._on_database_error(Context())
    assert bulkhead.is_open()
    bulkhead._failed_at = None
    with app.app_context():
        from authgw.extensions import db
        assert sa.event.contains(db.engine, "handle_error", bulkhead._on_database_error)

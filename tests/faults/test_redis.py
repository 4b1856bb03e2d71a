"""Redis hung or killed: sign-in and refresh keep working on per-process rate-limit counters, and
the limiter goes back to Redis by itself."""

from __future__ import annotations

import os
import subprocess
import time

import requests

from faultlib import TABLE, User, frozen, killed, timed, wait_for
from stacklib import BASE_URL, stack

REDIS_BOUND = 3.0  # seconds (docs/operations.md "Timeouts and fallbacks")


def _redis(*args: str) -> str:
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", os.environ.get("REDIS_PORT", "6380"), *args],
                          capture_output=True, text=True, timeout=5, check=True).stdout


def _limiter_hits() -> int:
    """The sum of Flask-Limiter's counters in Redis (grows by one per rate-limited request)."""
    keys = [k for k in _redis("--scan", "--pattern", "*LIMITER/*").split() if k]
    return sum(int(v) for v in (_redis("GET", k).strip() for k in keys) if v.isdigit())


def _sign_in_and_refresh(row) -> User:
    """A full sign-in then a refresh, each step within the bound; the user."""
    user = User()
    started = time.monotonic()
    user.login()
    assert time.monotonic() - started <= 3 * REDIS_BOUND, "a sign-in (three requests) took too long"
    refresh = timed(user.refresh)
    row.saw(refresh)
    assert refresh.status == 200, (refresh.status, refresh.response.text[:200] if refresh.response else "")
    assert refresh.seconds <= REDIS_BOUND, f"refresh took {refresh.seconds:.2f} s with Redis down"
    assert user.get("/api/me").status_code == 200
    return user


def _timed_login_steps(row, user: User) -> None:
    """Each request of a sign-in within the bound (the login start and the callback are rate-limited)."""
    start = timed(lambda: user.session.get(f"{BASE_URL}/api/auth/login", params={"login_hint": user.email},
                                           allow_redirects=False, timeout=20))
    row.saw(start)
    assert start.status == 302 and start.seconds <= REDIS_BOUND, (start.status, start.seconds)
    at_idp = user.session.get(start.response.headers["Location"], allow_redirects=False, timeout=20)
    callback = timed(lambda: user.callback(at_idp.headers["Location"]))
    row.saw(callback)
    assert callback.status == 303 and callback.seconds <= REDIS_BOUND, (callback.status, callback.seconds)
    assert "access_token=" in callback.response.headers["Location"]


def _back_on_redis(row, since: float) -> None:
    """Rate-limited requests count in Redis again within 5 s of ``since`` (no restart)."""
    probe = User()

    def counted() -> bool:
        before = _limiter_hits()
        probe.session.get(f"{BASE_URL}/api/auth/login", params={"login_hint": probe.email},
                          allow_redirects=False, timeout=5)
        return _limiter_hits() > before

    waited = wait_for(counted, timeout=15, interval=0.2)
    assert waited is not None, "the rate limiter never went back to Redis"
    row.recovered = time.monotonic() - since
    assert row.recovered <= 5, f"the rate limiter went back to Redis after {row.recovered:.1f} s"


def test_hung_redis_leaves_sign_in_and_refresh_working_and_the_limiter_returns_to_redis():
    row = TABLE.row("Redis hung (SIGSTOP)")
    before = User().login()
    assert _limiter_hits() > 0, "the rate limiter does not use this Redis"
    with frozen("redis"):
        for _ in range(3):
            _timed_login_steps(row, User())
        _sign_in_and_refresh(row)
        refresh = timed(before.refresh)
        row.saw(refresh)
        assert refresh.status == 200 and refresh.seconds <= REDIS_BOUND, (refresh.status, refresh.seconds)
        ready = timed(lambda: requests.get(f"{BASE_URL}/api/health/ready", timeout=20))
        row.saw(ready)
        assert ready.seconds <= REDIS_BOUND, f"/api/health/ready took {ready.seconds:.2f} s"
        assert ready.json().get("redis") == "unreachable", ready.response.text[:300]
    _back_on_redis(row, time.monotonic())
    assert before.refresh().status_code == 200


def test_killed_redis_leaves_sign_in_working_and_a_restart_is_picked_up():
    row = TABLE.row("Redis killed, restarted")
    killed("redis")
    try:
        _timed_login_steps(row, User())
        _sign_in_and_refresh(row)
    finally:
        stack("start", "redis")
    _back_on_redis(row, time.monotonic())

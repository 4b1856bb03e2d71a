"""MariaDB hung or killed: 503 within 3 s, token-only routes unaffected, nothing spent, back within 5 s."""

from __future__ import annotations

import time

import requests

from faultlib import (TABLE, User, assert_json_error, frozen, in_parallel, killed, past_503, timed, under_load,
                      wait_for)
from stacklib import BASE_URL, stack

DB_BOUND = 3.0  # seconds (docs/operations.md "Timeouts and fallbacks")


def _ready() -> requests.Response:
    return requests.get(f"{BASE_URL}/api/health/ready", timeout=10)


def test_hung_database_answers_503_within_3_s_while_token_only_routes_keep_answering():
    row = TABLE.row("MariaDB hung (SIGSTOP)")
    user = User().login()
    note = user.post("/api/notes", json={"title": "before the database hung"})
    assert note.status_code == 201, note.text
    cookie = user.refresh_cookie
    with frozen("db"):
        # More database requests than the backend has threads (3 workers x 4):
        # the bulkhead must keep a thread free for /api/ping.
        burst = in_parallel([lambda: user.get("/api/me")] * 12 + [lambda: user.get("/api/ping")] * 4
                            + [user.refresh, lambda: user.get("/api/notes")])
        row.saw(*burst)
        for answer in burst[:12] + burst[16:]:
            assert_json_error(answer, (503,), DB_BOUND, "database route, database hung")
        # Until the hang is known (a holder past SLOW_SECONDS, or a timed-out
        # connection: about a second), a token-only request may queue behind
        # one waiting for a database slot.
        for answer in burst[12:16]:
            assert answer.status == 200 and answer.seconds <= 1.5, \
                f"/api/ping during the burst: {answer.status} after {answer.seconds:.2f} s"
        # Once the hang is known, token-only routes answer at normal speed.
        pings = [timed(lambda: user.get("/api/ping")) for _ in range(10)]
        row.saw(*pings)
        assert all(p.status == 200 for p in pings), [p.status for p in pings]
        assert max(p.seconds for p in pings) <= 0.5, [round(p.seconds, 2) for p in pings]
        ready = timed(_ready)
        row.saw(ready)
        assert_json_error(ready, (503,), DB_BOUND, "/api/health/ready")
        assert ready.json()["database"] == "unreachable" and ready.json()["revocation_feed"]["status"] == "ok"
        refresh = timed(user.refresh)
        row.saw(refresh)
        assert_json_error(refresh, (503,), DB_BOUND, "refresh, database hung")
        thawed = time.monotonic()
    back = wait_for(lambda: user.get("/api/me", timeout=3).status_code == 200, timeout=10)
    assert back is not None and back <= 5, f"/api/me not back within 5 s of SIGCONT ({back})"
    # Nothing spent: the refresh token that got 503 still works, and so does its successor.
    assert user.refresh_cookie == cookie, "a 503 refresh changed the refresh cookie"
    refreshed = past_503(user.refresh)
    row.recovered = time.monotonic() - thawed
    assert refreshed.status_code == 200, f"the refresh token that got 503 was spent: {refreshed.text[:200]}"
    assert row.recovered <= 5, f"refresh not back within 5 s of SIGCONT ({row.recovered:.1f} s)"
    assert user.refresh().status_code == 200, "the successor of that refresh token does not work"
    assert [n["title"] for n in user.get("/api/notes").json()["notes"]] == ["before the database hung"]
    assert time.monotonic() - thawed < 15


def test_refreshes_caught_by_a_database_freeze_spend_nothing():
    """Freeze MariaDB while refreshes are in flight: whatever each got, its session refreshes afterwards."""
    row = TABLE.row("MariaDB hung mid-refresh")
    users = [User().login() for _ in range(6)]
    # 503s come at once: the pause keeps each user under the refresh rate limit.
    with under_load(users, lambda user: [user.refresh], seconds=3.5, pause=0.02) as answers:
        time.sleep(0.4)
        with frozen("db"):
            time.sleep(2.5)
        thawed = time.monotonic()
    row.saw(*answers)
    assert {a.status for a in answers} <= {200, 503}, sorted({str(a.status) for a in answers})
    assert any(a.status == 503 for a in answers), "no refresh met the frozen database"
    for answer in answers:
        if answer.status == 503:
            assert_json_error(answer, (503,), DB_BOUND, "refresh mid-freeze")
        assert answer.seconds <= DB_BOUND, f"refresh answered after {answer.seconds:.2f} s"
    # Each session still refreshes (the token a 503 left is live, or is inside
    # the grace window when its rotation committed as the database resumed).
    for user in users:
        first = past_503(user.refresh)
        assert first.status_code == 200, (first.status_code, first.text[:200])
        if row.recovered is None:
            row.recovered = time.monotonic() - thawed
        # Another worker's breaker may still be open for its OPEN_SECONDS (its
        # own connection timed out as the database resumed): 503, then 200.
        assert past_503(user.refresh).status_code == 200
        assert past_503(lambda: user.get("/api/me")).status_code == 200


def test_killed_database_is_restarted_and_everything_comes_back_within_5_s():
    row = TABLE.row("MariaDB killed, restarted")
    user = User().login()
    killed("db")
    try:
        down = in_parallel([lambda: user.get("/api/me"), user.refresh, lambda: user.get("/api/ping")])
        row.saw(*down)
        assert_json_error(down[0], (503,), DB_BOUND, "/api/me, database dead")
        assert_json_error(down[1], (503,), DB_BOUND, "refresh, database dead")
        assert down[2].status == 200 and down[2].seconds <= 1.0, (down[2].status, down[2].seconds)
    finally:
        stack("start", "db")
    restarted = time.monotonic()
    back = wait_for(lambda: user.get("/api/me", timeout=3).status_code == 200, timeout=10)
    assert back is not None and back <= 5, f"/api/me not back within 5 s of the restart ({back})"
    assert past_503(user.refresh).status_code == 200, "the session did not survive the database restart"
    row.recovered = time.monotonic() - restarted

"""The backend hung (every gunicorn process) or one worker killed mid-request.

With the backend hung, the gateway still checks tokens itself (its last
revocation snapshot), so the SPA's static files and the notes service keep
answering, revoked-before-the-outage tokens stay refused, and the backend's
own routes get a JSON 504 within 10 s.
"""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from faultlib import (TABLE, User, assert_json_error, children_of, frozen, in_parallel, pid_of, timed,
                      under_load, wait_for)
from stacklib import BASE_URL

BACKEND_BOUND = 10.0  # seconds (docs/operations.md "Timeouts and fallbacks")
NORMAL = 1.5  # seconds: "normal speed" on this shared machine
THREADS_PER_WORKER = int(os.environ.get("GUNICORN_THREADS", "4"))  # authgw_kit.gunicorn's default


def _static_paths() -> list[str]:
    index = requests.get(f"{BASE_URL}/", timeout=5)
    assert index.status_code == 200
    return ["/", "/notes"] + re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.text)


def test_hung_backend_leaves_the_spa_and_notes_answering_and_revoked_tokens_refused():
    row = TABLE.row("backend hung (all gunicorn processes)")
    alice = User().login()
    created = alice.post("/api/notes", json={"title": "before the backend hung"})
    assert created.status_code == 201, created.text
    revoked = User().login()
    assert revoked.post("/api/notes", json={"title": "x"}).status_code == 201
    logout = revoked.session.post(f"{BASE_URL}/api/auth/logout", headers={"Origin": BASE_URL}, timeout=10)
    assert logout.status_code == 204, logout.text
    assert wait_for(lambda: revoked.get("/api/notes", timeout=3).status_code == 401, timeout=10) is not None, \
        "the gateway never refused the logged-out session"
    statics = _static_paths()
    assert len(statics) >= 3, statics
    cookie = alice.refresh_cookie
    with frozen("backend"), ThreadPoolExecutor(2) as pool:
        # The backend's own routes: the gateway gives up within its read timeout.
        slow = [pool.submit(timed, lambda: alice.get("/api/ping")), pool.submit(timed, alice.refresh)]
        answers = [timed(lambda p=p: requests.get(f"{BASE_URL}{p}", timeout=20)) for p in statics]
        for path, answer in zip(statics, answers):
            assert answer.status == 200 and answer.seconds <= NORMAL, (path, answer.status, answer.seconds)
        reads = [timed(lambda: alice.get("/api/notes")) for _ in range(3)]
        write = timed(lambda: alice.post("/api/notes", json={"title": "while the backend hung"}))
        refused = [timed(lambda: revoked.get("/api/notes")) for _ in range(2)]
        answers += reads + [write] + refused
        for answer in reads:
            assert answer.status == 200 and answer.seconds <= NORMAL, (answer.status, answer.seconds)
        assert write.status == 201 and write.seconds <= NORMAL, (write.status, write.seconds)
        for answer in refused:
            assert_json_error(answer, (401,), NORMAL, "revoked token at notes, backend hung")
        backend_answers = [future.result() for future in slow]
        answers += backend_answers
        row.saw(*answers)
        for answer, what in zip(backend_answers, ("/api/ping", "refresh")):
            assert_json_error(answer, (502, 503, 504), BACKEND_BOUND, f"{what}, backend hung")
        thawed = time.monotonic()
    back = wait_for(lambda: alice.get("/api/ping", timeout=3).status_code == 200, timeout=10)
    row.recovered = back
    assert back is not None and back <= 5, f"/api/ping not back within 5 s of SIGCONT ({back})"
    # The refresh the gateway gave up on reached the backend when it resumed:
    # the same token is still accepted (inside the grace window), no session lost.
    assert alice.refresh_cookie == cookie
    assert alice.refresh().status_code == 200, "the refresh that got 504 left a dead session"
    assert alice.refresh().status_code == 200
    titles = sorted(n["title"] for n in alice.get("/api/notes").json()["notes"])
    assert titles == ["before the backend hung", "while the backend hung"]
    assert revoked.get("/api/notes").status_code == 401
    assert time.monotonic() - thawed < 20


def test_a_backend_worker_killed_mid_request_costs_at_most_its_requests_and_is_replaced():
    row = TABLE.row("one backend worker killed mid-request")
    master = pid_of("backend")
    workers = children_of(master)
    assert len(workers) >= 2, workers
    users = [User().login() for _ in range(8)]
    with under_load(users, lambda user: [user.refresh, lambda: user.get("/api/me")], seconds=3.0) as answers:
        time.sleep(0.8)
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for(lambda: len(children_of(master)) == len(workers) and victim not in children_of(master),
                            timeout=10)
    row.saw(*answers)
    # A request the worker was still computing gets the gateway's JSON 502; one
    # whose answer it was writing (gunicorn sends the headers and the body in two
    # writes) reaches the client cut off, which no proxy can turn into a 502 once
    # the headers are on their way. Either way only the requests on the victim:
    # at most its threads (GUNICORN_THREADS, docs/kit.md).
    cut = [answer for answer in answers if answer.status is None]
    assert len(cut) <= THREADS_PER_WORKER, [answer.error for answer in cut]
    assert all(answer.error == "ChunkedEncodingError" for answer in cut), [answer.error for answer in cut]
    for answer in answers:
        if answer.status not in (200, None):
            assert_json_error(answer, (502, 503, 504), BACKEND_BOUND, "request on the killed worker")
        assert answer.seconds <= BACKEND_BOUND, answer.seconds
    assert replaced is not None, f"gunicorn did not replace worker {victim}: {children_of(master)}"
    row.recovered = replaced
    assert replaced <= 5, f"worker replaced after {replaced:.1f} s"
    # Every session survived: a refresh that died with the worker left a token
    # that still works (unspent, or inside the grace window).
    results = in_parallel([u.refresh for u in users])
    assert all(r.status == 200 for r in results), [(r.status, r.json().get("error")) for r in results]
    assert all(u.get("/api/me").status_code == 200 for u in users)

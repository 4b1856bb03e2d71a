"""The notes service hung or killed: JSON 504/502 from the gateway within 10 s, the rest unaffected,
notes kept, back within 5 s."""

from __future__ import annotations

import time

import requests

from faultlib import NOTES_URL, TABLE, User, assert_json_error, frozen, in_parallel, killed, timed, wait_for
from stacklib import BASE_URL, stack

SERVICE_BOUND = 10.0  # seconds: a hung service behind the gateway, like the backend (docs/operations.md)
NORMAL = 1.5


def _others_unaffected(user: User) -> list:
    answers = [timed(lambda: user.get("/api/me")), timed(lambda: user.get("/api/ping")),
               timed(lambda: requests.get(f"{BASE_URL}/", timeout=20))]
    for answer in answers:
        assert answer.status == 200 and answer.seconds <= NORMAL, (answer.status, answer.seconds)
    return answers


def test_hung_notes_service_gives_504_json_and_leaves_the_backend_answering():
    row = TABLE.row("notes hung (SIGSTOP)")
    user = User().login()
    assert user.post("/api/notes", json={"title": "kept"}).status_code == 201
    with frozen("notes"):
        hung = [timed(lambda: user.get("/api/notes"))]
        row.saw(*hung, *_others_unaffected(user))
        assert_json_error(hung[0], (502, 503, 504), SERVICE_BOUND, "notes hung")
        thawed = time.monotonic()
    back = wait_for(lambda: user.get("/api/notes", timeout=3).status_code == 200, timeout=10)
    row.recovered = back
    assert back is not None and back <= 5, f"notes not back within 5 s of SIGCONT ({back})"
    assert "kept" in [n["title"] for n in user.get("/api/notes").json()["notes"]]
    assert time.monotonic() - thawed < 15


def test_killed_notes_service_gives_502_json_and_comes_back_after_a_restart_with_its_notes():
    row = TABLE.row("notes killed, restarted")
    user = User().login()
    assert user.post("/api/notes", json={"title": "survives a kill"}).status_code == 201
    killed("notes")
    try:
        dead = timed(lambda: user.get("/api/notes"))
        row.saw(dead, *_others_unaffected(user))
        assert_json_error(dead, (502, 503), 3.0, "notes dead")
    finally:
        stack("start", "notes")
    restarted = time.monotonic()
    back = wait_for(lambda: user.get("/api/notes", timeout=3).status_code == 200, timeout=10)
    row.recovered = back
    assert back is not None and back <= 5, f"notes not back within 5 s of the restart ({back})"
    assert [n["title"] for n in user.get("/api/notes").json()["notes"]] == ["survives a kill"]
    assert time.monotonic() - restarted < 15


def test_freshly_started_notes_workers_answer_valid_tokens_while_the_backend_is_hung():
    """Every notes worker holds the keys and a revocation list from its start, not from its first request."""
    row = TABLE.row("notes restarted, then backend hung")
    user = User().login()
    stack("restart", "notes")
    with frozen("backend"):
        direct = in_parallel([lambda: requests.get(f"{NOTES_URL}/api/notes", headers=user.auth, timeout=20)] * 12)
        row.saw(*direct)
        assert all(a.status == 200 and a.seconds <= NORMAL for a in direct), \
            [(a.status, round(a.seconds, 2)) for a in direct]
    row.recovered = wait_for(lambda: user.get("/api/ping", timeout=3).status_code == 200, timeout=10)

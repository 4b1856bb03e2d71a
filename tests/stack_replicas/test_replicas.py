"""Two gateways, two backend replicas, one database and one Redis.

What must hold when the API runs as several instances
(docs/architecture.md): a revocation made through any gateway or backend
is honoured by every other within 5 s; the gateways keep their revocation
feed fresh from the second backend while the first is frozen; concurrent
refreshes of one token on both backends hand out one successor (the grace
window of docs/login-and-tokens.md "Refresh token rotation"); the backend's
rate limits are counted in Redis, so both replicas share them.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import BACKENDS, GATEWAYS, NOTES, client_address, sign_in, status
from stacklib import ROOT, stack, wait_until

ORIGINS = {"gateway": GATEWAYS[0], "gateway2": GATEWAYS[1], "backend": BACKENDS[0], "backend2": BACKENDS[1]}
REVOCATION_DEADLINE = 5.0  # seconds (docs/interface.md "Revocation")


def logout(base: str, token: str) -> None:
    r = requests.post(f"{base}/api/auth/logout", headers={"Authorization": f"Bearer {token}",
                                                         "X-Forwarded-For": client_address()}, timeout=10)
    assert r.status_code == 204, r.text


def refused_everywhere(token: str) -> bool:
    return all(status(base, "/api/ping", token, **{"X-Forwarded-For": client_address()}) == 401
               for base in ORIGINS.values())


@pytest.mark.parametrize("where", list(ORIGINS))
def test_revocation_through_one_instance_is_honoured_by_all_within_5s(where):
    session = sign_in()
    for name, base in ORIGINS.items():
        assert status(base, "/api/ping", session.access_token) == 200, f"{name} refuses a fresh token"
    logout(ORIGINS[where], session.access_token)
    refused, took = wait_until(lambda: refused_everywhere(session.access_token), REVOCATION_DEADLINE)
    still = [n for n, b in ORIGINS.items() if status(b, "/api/ping", session.access_token) != 401]
    assert refused, f"logout through {where}: still accepted by {still} after {took:.1f} s"
    print(f"\nlogout through {where}: refused by all four after {took:.2f} s")


def test_gateways_and_notes_poll_the_second_backend_while_the_first_is_frozen():
    """With the first backend SIGSTOPped, a session revoked on the second is
    refused within 5 s by both gateways and by the notes service's own check
    (their feeds come from the second now), valid tokens keep reaching notes
    at once, and the first backend's failures cost one warning line, not one
    per poll."""
    valid, revoked = sign_in(), sign_in()
    log_path = Path(os.environ.get("STACK_DIR", ROOT / ".stack")) / "log" / "gateway-error.log"
    log_start = log_path.stat().st_size if log_path.exists() else 0
    origins = (*GATEWAYS, NOTES)
    for origin in origins:
        assert status(origin, "/api/notes", revoked.access_token) == 200
    stack("freeze", "backend")
    try:
        frozen_at = time.monotonic()
        logout(BACKENDS[1], revoked.access_token)
        refused, took = wait_until(
            lambda: all(status(o, "/api/notes", revoked.access_token) == 401 for o in origins), REVOCATION_DEADLINE)
        still = [o for o in origins if status(o, "/api/notes", revoked.access_token) != 401]
        assert refused, f"{still} still accept the revoked session {took:.1f} s after the logout"
        for origin in origins:
            started = time.monotonic()
            assert status(origin, "/api/notes", valid.access_token) == 200
            assert time.monotonic() - started < 1.0, "a request waited on the frozen backend"
        time.sleep(max(0.0, 6.0 - (time.monotonic() - frozen_at)))  # several polls while frozen
        with log_path.open("rb") as log:
            log.seek(log_start)
            added = log.read().decode(errors="replace")
        first = BACKENDS[0].rsplit("/", 1)[1]
        lines = [ln for ln in added.splitlines() if "fetch failed" in ln and f"//{first}/" in ln]
        assert len(lines) <= 2, lines  # JWK Set and feed, each at most once per 10 s
        print(f"\nfirst backend frozen: revocation via the second honoured after {took:.2f} s; "
              f"{len(lines)} warning line(s) about the first")
    finally:
        stack("thaw", "backend")
    assert wait_until(lambda: status(BACKENDS[0], "/api/health/ready", None) == 200, 10)[0]


def test_concurrent_refreshes_on_both_backends_hand_out_one_successor():
    session = sign_in()
    barrier = threading.Barrier(8)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def refresh(base: str) -> None:
        http = requests.Session()
        http.get(f"{base}/api/health", timeout=10)  # connected before the barrier
        barrier.wait(timeout=10)
        r = http.post(f"{base}/api/auth/refresh", json={"refresh_token": session.refresh_cookie},
                      headers={"X-Forwarded-For": client_address()}, timeout=15)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=refresh, args=(BACKENDS[n % 2],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers if r.status_code != 200]
    successors = {r.json()["refresh_token"] for r in answers}
    assert len(successors) == 1, "concurrent refreshes forked the session"
    successor = successors.pop()
    assert successor != session.refresh_cookie
    for r in answers[:2]:
        for gateway in GATEWAYS:
            assert status(gateway, "/api/ping", r.json()["access_token"]) == 200
    # The chain goes on from the one successor, on either backend.
    nxt = requests.post(f"{BACKENDS[1]}/api/auth/refresh", json={"refresh_token": successor},
                        headers={"X-Forwarded-For": client_address()}, timeout=10)
    assert nxt.status_code == 200, nxt.text
    assert nxt.json()["refresh_token"] not in (successor, session.refresh_cookie)


def refresh_limit() -> int:
    """RATELIMIT_REFRESH as the run script gives it to both backends (per minute)."""
    value = os.environ.get("RATELIMIT_REFRESH", "120 per minute")
    match = re.fullmatch(r"\s*(\d+)\s*(?:per|/)\s*(?:1\s*)?minute\s*", value)
    if not match:
        pytest.skip(f"RATELIMIT_REFRESH={value!r} is not 'N per minute'")
    return int(match.group(1))


def exhaust(limit: int) -> tuple[dict, dict, str]:
    """Alternate POST /api/auth/refresh between the backends for one client
    address until the first 429; return answers per backend before it, the
    429s per backend, and the address."""
    address = client_address()
    https = [requests.Session(), requests.Session()]
    accepted, refused = {0: 0, 1: 0}, {0: 0, 1: 0}
    for n in range(3 * limit):
        i = n % 2
        # An oversized token: refused (400) before the database, counted all the same.
        r = https[i].post(f"{BACKENDS[i]}/api/auth/refresh", json={"refresh_token": "x" * 300},
                          headers={"X-Forwarded-For": address}, timeout=10)
        if r.status_code == 429:
            refused[i] += 1
            break
        assert r.status_code == 400, r.text
        accepted[i] += 1
    return accepted, refused, address


def test_refresh_rate_limit_is_shared_by_both_backends():
    limit = refresh_limit()
    if limit > 5000:
        pytest.skip(f"RATELIMIT_REFRESH allows {limit} per minute: too many requests for this test")
    for _ in range(2):
        accepted, refused, address = exhaust(limit)
        if sum(accepted.values()) <= limit:
            break  # else the fixed one-minute window turned during the run: once more
    total = sum(accepted.values())
    assert sum(refused.values()) == 1, f"no 429 after {total} requests (limit {limit} per minute)"
    assert total == limit, f"{total} requests accepted for a limit of {limit}"
    assert max(accepted.values()) < limit, "one backend alone took the whole limit"
    for base in BACKENDS:  # the address is refused by both now
        r = requests.post(f"{base}/api/auth/refresh", json={"refresh_token": "x" * 300},
                          headers={"X-Forwarded-For": address}, timeout=10)
        assert r.status_code == 429, f"{base}: {r.status_code}"
    print(f"\nrefresh limit {limit}/min: {accepted} accepted per backend, then 429 from both")

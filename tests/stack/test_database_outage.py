"""A database outage gives 503, and the service recovers by itself."""

from __future__ import annotations

import requests

from stacklib import browser_login, stack, unique_email, wait_until


def test_ready_turns_503_while_mariadb_is_stopped_and_200_after_restart(base_url):
    signed_in = browser_login(unique_email())
    assert requests.get(f"{base_url}/api/health/ready", timeout=10).status_code == 200
    stack("stop", "db")
    try:
        down, _ = wait_until(lambda: requests.get(f"{base_url}/api/health/ready", timeout=10).status_code == 503, timeout=15)
        assert down, "/api/health/ready did not report the outage"
        body = requests.get(f"{base_url}/api/health/ready", timeout=10).json()
        assert body["error"] == "service_unavailable"
        # Liveness is not readiness: the process itself is fine.
        assert requests.get(f"{base_url}/api/health", timeout=10).status_code == 200
        # Anything needing the database answers 503 JSON, never a 500.
        refresh = signed_in.session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url}, timeout=15)
        assert refresh.status_code == 503 and refresh.json()["error"] == "service_unavailable"
    finally:
        stack("start", "db")
    up, seconds = wait_until(lambda: requests.get(f"{base_url}/api/health/ready", timeout=10).status_code == 200, timeout=60)
    assert up, "the backend did not recover after the database came back"
    # Sessions survive the outage: the refresh cookie still works, no restart needed.
    refreshed, _ = wait_until(lambda: signed_in.session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url},
                                                             timeout=10).status_code == 200, timeout=20)
    assert refreshed

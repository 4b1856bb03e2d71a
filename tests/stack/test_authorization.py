"""Authorization through the gateway: permission guards, the admin API,
deactivation, the sign-in allowlist, the audit log and rate limits.

``scripts/test`` starts the stack with ``ADMIN_EMAILS=admin@example.com``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from conftest import ADMIN_EMAIL
from stacklib import BASE_URL, browser_login, stack, unique_email, wait_until


def _refresh(result, base_url) -> str:
    response = result.session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url}, timeout=10)
    assert response.status_code == 200, response.text
    result.access_token = response.json()["access_token"]
    return result.access_token


def _audit(base_url, admin, **params) -> list[dict]:
    response = requests.get(f"{base_url}/api/admin/audit", params=params, headers=admin.auth, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_normal_user_gets_403_insufficient_scope_on_admin_routes(base_url, signed_in):
    for method, path in (("GET", "/api/admin/users"), ("GET", "/api/admin/users/1"), ("PATCH", "/api/admin/users/1"),
                         ("GET", "/api/admin/roles"), ("POST", "/api/admin/roles"),
                         ("PUT", "/api/admin/roles/user/permissions"), ("GET", "/api/admin/audit")):
        response = requests.request(method, f"{base_url}{path}", headers=signed_in.auth, json={}, timeout=10)
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json()["error"] == "insufficient_scope"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="insufficient_scope"' or \
            response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')


def test_admin_grants_a_role_and_the_next_refreshed_token_carries_it(base_url, admin):
    user = browser_login(unique_email("colleague"))
    me = requests.get(f"{base_url}/api/me", headers=user.auth, timeout=10).json()
    response = requests.patch(f"{base_url}/api/admin/users/{me['id']}", json={"roles": ["user", "admin"]},
                              headers=admin.auth, timeout=10)
    assert response.status_code == 200, response.text
    assert "admin" in response.json()["roles"]
    # The old token keeps its claims until it is refreshed...
    assert requests.get(f"{base_url}/api/admin/users", headers=user.auth, timeout=10).status_code == 403
    _refresh(user, base_url)
    # ...the refreshed one carries the new role and its permissions.
    listed = requests.get(f"{base_url}/api/admin/users", params={"q": me["email"]}, headers=user.auth, timeout=10)
    assert listed.status_code == 200 and listed.json()["users"][0]["email"] == me["email"]
    events = _audit(base_url, admin, user_id=me["id"], event="roles_changed")
    assert any("admin" in e["details"].get("added", []) for e in events)


def test_admin_input_errors_are_4xx_json_naming_the_field(base_url, admin):
    cases = [
        ("PATCH", "/api/admin/users/1", {"roles": ["no-such-role"]}, 400, "roles"),
        ("PATCH", "/api/admin/users/1", {"active": "yes"}, 400, "active"),
        ("PATCH", "/api/admin/users/not-a-number", {"active": True}, 400, "id"),
        ("PATCH", "/api/admin/users/99999999", {"active": True}, 404, "user"),
        ("PUT", "/api/admin/roles/user/permissions", {"permissions": ["nope:nope"]}, 400, "permissions"),
        ("POST", "/api/admin/roles", {"name": "Bad Name!"}, 400, "name"),
        ("GET", "/api/admin/users?page=0", None, 400, "page"),
    ]
    for method, path, body, status, field in cases:
        response = requests.request(method, f"{base_url}{path}", json=body, headers=admin.auth, timeout=10)
        assert response.status_code == status, (path, body, response.text)
        assert field in response.json()["error_description"].lower(), (path, response.json())


def test_deactivation_kills_live_token_within_5s_and_blocks_sign_in(base_url, admin):
    email = unique_email("leaver")
    user = browser_login(email)
    me = requests.get(f"{base_url}/api/me", headers=user.auth, timeout=10).json()
    response = requests.patch(f"{base_url}/api/admin/users/{me['id']}", json={"active": False}, headers=admin.auth, timeout=10)
    assert response.status_code == 200 and response.json()["active"] is False
    refused, seconds = wait_until(
        lambda: requests.get(f"{base_url}/api/me", headers=user.auth, timeout=10).status_code == 401, timeout=6)
    assert refused and seconds <= 5.0, f"live token still accepted after {seconds:.1f} s"
    assert user.session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url}, timeout=10).status_code == 401
    session = requests.Session()
    start = session.get(f"{base_url}/api/auth/login", params={"login_hint": email}, allow_redirects=False, timeout=10)
    at_idp = session.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = session.get(at_idp.headers["Location"], allow_redirects=False, timeout=10)
    assert callback.headers["Location"] == f"{BASE_URL}/login?error=account_disabled"
    kinds = {e["event"] for e in _audit(base_url, admin, user_id=me["id"])}
    assert {"login_succeeded", "user_deactivated"} <= kinds
    failed = _audit(base_url, admin, event="login_failed")
    assert any(e["email"] == email and e["details"]["reason"] == "account_disabled" for e in failed)


def test_audit_log_records_logout_revocation_and_reuse_without_tokens(base_url, admin):
    user = browser_login(unique_email("audited"))
    me = requests.get(f"{base_url}/api/me", headers=user.auth, timeout=10).json()
    spent = user.refresh_cookie
    assert requests.post(f"{base_url}/api/auth/refresh", json={"refresh_token": spent}, timeout=10).status_code == 200
    import time

    time.sleep(11)  # past the grace window: presenting it again is reuse
    assert requests.post(f"{base_url}/api/auth/refresh", json={"refresh_token": spent}, timeout=10).status_code == 401
    second = browser_login(me["email"])
    assert second.session.post(f"{base_url}/api/auth/logout", headers={"Origin": base_url}, timeout=10).status_code == 204
    events = _audit(base_url, admin, user_id=me["id"], per_page=100)
    kinds = [e["event"] for e in events]
    assert "refresh_token_reused" in kinds and "logout" in kinds and "login_succeeded" in kinds
    text = repr(events)
    assert spent not in text and user.access_token not in text and second.access_token not in text
    assert all(e["ip"] and "created_at" in e for e in events)


RESTRICTED_SETTINGS = {
    "ALLOWED_EMAILS": "listed@gmail.com",
    "ALLOWED_EMAIL_DOMAINS": "corp.example",
    "RATELIMIT_REFRESH": "5 per minute",
}


@pytest.fixture(scope="class")
def restricted_backend(base_url):
    """The backend restarted with an allowlist and a low refresh limit."""
    stack("restart", "backend", env=RESTRICTED_SETTINGS)
    yield
    stack("restart", "backend")


@pytest.mark.usefixtures("restricted_backend")
class TestWithRestrictedBackend:
    """Allowlist and rate limits need the backend restarted with other settings."""

    @staticmethod
    def _login_outcome(email: str) -> str:
        session = requests.Session()
        start = session.get(f"{BASE_URL}/api/auth/login", params={"login_hint": email}, allow_redirects=False, timeout=10)
        at_idp = session.get(start.headers["Location"], allow_redirects=False, timeout=10)
        callback = session.get(at_idp.headers["Location"], allow_redirects=False, timeout=10)
        location = urlsplit(callback.headers["Location"])
        return location.path + ("?" + location.query if location.query else "")

    def test_allowlist_and_domain_rules_at_sign_in(self, base_url):
        assert self._login_outcome("listed@gmail.com") == "/auth/callback"
        assert self._login_outcome(unique_email("staff").replace("example.com", "corp.example")) == "/auth/callback"
        assert self._login_outcome("stranger@gmail.com") == "/login?error=not_allowed"
        assert self._login_outcome(unique_email("outsider")) == "/login?error=not_allowed"
        assert self._login_outcome(ADMIN_EMAIL) == "/auth/callback"  # ADMIN_EMAILS may always sign in

    def test_admin_allows_an_email_ahead_of_first_login(self, base_url):
        admin = browser_login(ADMIN_EMAIL)
        email = unique_email("invited").replace("example.com", "gmail.com")
        assert self._login_outcome(email) == "/login?error=not_allowed"
        response = requests.post(f"{base_url}/api/admin/allowed-emails", json={"email": email}, headers=admin.auth, timeout=10)
        assert response.status_code == 201
        assert self._login_outcome(email) == "/auth/callback"
        assert any(e["email"] == email for e in _audit(base_url, admin, event="email_allowed"))

    def test_refresh_rate_limit_answers_429_with_retry_after(self, base_url):
        statuses = []
        for _ in range(8):
            response = requests.post(f"{base_url}/api/auth/refresh", json={"refresh_token": "x" * 43}, timeout=10)
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.json()["error"] == "rate_limited"
                assert int(response.headers["Retry-After"]) > 0
                break
        assert statuses[-1] == 429, statuses
        assert all(status == 401 for status in statuses[:-1]), statuses


def test_admin_revokes_one_session_of_a_user_within_5s(base_url, admin):
    email = unique_email("lostphone")
    phone = browser_login(email)
    laptop = browser_login(email)
    me = requests.get(f"{base_url}/api/me", headers=phone.auth, timeout=10).json()
    detail = requests.get(f"{base_url}/api/admin/users/{me['id']}", headers=admin.auth, timeout=10).json()
    assert len(detail["sessions"]) == 2
    phone_sid = requests.get(f"{base_url}/api/whoami", headers=phone.auth, timeout=10).json()["session_id"]
    response = requests.delete(f"{base_url}/api/admin/users/{me['id']}/sessions/{phone_sid}", headers=admin.auth, timeout=10)
    assert response.status_code == 204
    refused, seconds = wait_until(
        lambda: requests.get(f"{base_url}/api/me", headers=phone.auth, timeout=10).status_code == 401, timeout=6)
    assert refused and seconds <= 5.0
    assert requests.get(f"{base_url}/api/me", headers=laptop.auth, timeout=10).status_code == 200
    again = requests.delete(f"{base_url}/api/admin/users/{me['id']}/sessions/{phone_sid}", headers=admin.auth, timeout=10)
    assert again.status_code == 404
    events = _audit(base_url, admin, user_id=me["id"], event="session_revoked")
    assert any(e["details"].get("by") == "admin" and e["actor_id"] for e in events)

"""Fixtures for tests against the running native stack, through the gateway.

The stack is started by ``scripts/stack up`` (``scripts/test`` does it);
nothing here mocks a part: real MariaDB, nginx, gunicorn and dev IdP.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("STACK_URL", "http://localhost:%s" % os.environ.get("GATEWAY_PORT", "8080")).rstrip("/")
#: The first of ADMIN_EMAILS (``scripts/test`` starts the stack with ``ADMIN_EMAILS=admin@example.com``).
ADMIN_EMAIL = os.environ.get("ADMIN_EMAILS", "admin@example.com").split(",")[0]


def stack(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``scripts/stack <args>`` (the user's own script)."""
    return subprocess.run([str(ROOT / "scripts" / "stack"), *args], cwd=ROOT, env={**os.environ, **(env or {})},
                          check=check, capture_output=True, text=True, timeout=300)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


class LoginResult:
    def __init__(self, session: requests.Session, access_token: str, fragment: dict, callback_response):
        self.session = session
        self.access_token = access_token
        self.fragment = fragment
        self.callback_response = callback_response

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def refresh_cookie(self) -> str | None:
        return self.session.cookies.get("refresh_token")


def browser_login(email: str | None = None, next_path: str = "/", session: requests.Session | None = None) -> LoginResult:
    """Sign in like a browser: gateway → dev IdP → callback → fragment.

    Returns:
        LoginResult with the access token from the fragment and the
        ``requests.Session`` holding the refresh cookie.
    """
    session = session or requests.Session()
    session.headers["User-Agent"] = "authgw-stack-tests"
    params = {"next": next_path}
    if email:
        params["login_hint"] = email
    start = session.get(f"{BASE_URL}/api/auth/login", params=params, allow_redirects=False, timeout=10)
    assert start.status_code == 302, start.text
    at_idp = session.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert at_idp.status_code in (302, 303), at_idp.text
    callback = session.get(at_idp.headers["Location"], allow_redirects=False, timeout=10)
    assert callback.status_code == 303, callback.text
    location = urlsplit(callback.headers["Location"])
    fragment = {k: v[0] for k, v in parse_qs(location.fragment).items()}
    token = fragment.get("access_token")
    assert token, f"no access token in {location.path}?{location.query}"
    return LoginResult(session, token, fragment, callback)


def wait_until(predicate, timeout: float, interval: float = 0.2):
    """Poll ``predicate`` until it returns truthy; return (value, seconds)."""
    start = time.monotonic()
    while True:
        value = predicate()
        elapsed = time.monotonic() - start
        if value or elapsed > timeout:
            return value, elapsed
        time.sleep(interval)


@pytest.fixture(scope="session")
def base_url() -> str:
    try:
        requests.get(f"{BASE_URL}/api/health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(f"the native stack is not up at {BASE_URL} ({exc}); run scripts/stack up")
    return BASE_URL


@pytest.fixture(scope="module")
def admin(base_url) -> LoginResult:
    """ADMIN_EMAIL signed in through the browser flow, once per test module."""
    result = browser_login(ADMIN_EMAIL)
    me = requests.get(f"{base_url}/api/me", headers=result.auth, timeout=10).json()
    assert "admin" in me["roles"], f"{ADMIN_EMAIL} is not an admin: start the stack with ADMIN_EMAILS"
    return result


@pytest.fixture
def signed_in(base_url) -> LoginResult:
    return browser_login(unique_email())

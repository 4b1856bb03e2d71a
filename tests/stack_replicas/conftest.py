"""Fixtures for the two-gateway, two-backend stack (``tests/stack_replicas/run``).

The stack is scripts/stack's replica mode (``STACK_GATEWAYS=2``,
``STACK_BACKENDS=2``): gateway and gateway2 in front of backend and
backend2, one MariaDB, one Redis. Nothing is mocked. Ports come from the
environment the run script exports (scripts/stack's defaults: GATEWAY2_PORT
= GATEWAY_PORT + 2, BACKEND2_PORT = BACKEND_PORT + 1).

Requests straight to a backend carry ``X-Forwarded-For`` with an address
of the documentation range (RFC 3849), as the gateway would add it: the
backend trusts one proxy (TRUSTED_PROXY_COUNT=1), so each test's rate-limit
bucket is its own and the other suites' bucket for 127.0.0.1 is left alone.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
import requests

from stacklib import ROOT, LoginResult, browser_login, stack, unique_email

GATEWAY_PORT = int(os.environ.get("GATEWAY_PORT", "8080"))
BACKEND_PORT = int(os.environ.get("BACKEND_PORT", "8000"))
GATEWAYS = (f"http://localhost:{GATEWAY_PORT}",
            f"http://localhost:{os.environ.get('GATEWAY2_PORT', GATEWAY_PORT + 2)}")
BACKENDS = (f"http://127.0.0.1:{BACKEND_PORT}",
            f"http://127.0.0.1:{os.environ.get('BACKEND2_PORT', BACKEND_PORT + 1)}")
NOTES = f"http://127.0.0.1:{os.environ.get('NOTES_PORT', '8200')}"  # the notes service itself, no gateway


def client_address() -> str:
    """A client address for X-Forwarded-For never used before: the IPv6
    documentation prefix (RFC 3849) with a random 64-bit interface id, so
    no two tests (nor two runs within a rate-limit window) share a bucket."""
    return "2001:db8::" + ":".join(secrets.token_hex(2) for _ in range(4))


def sign_in(gateway: str = GATEWAYS[0], email: str | None = None) -> LoginResult:
    """Sign in like a browser through ``gateway``: login → dev IdP → callback.

    The callback returns to PUBLIC_URL, the first gateway's origin.
    """
    result = browser_login(email or unique_email("replica"), base_url=gateway, user_agent="authgw-replica-tests")
    assert result.refresh_cookie
    return result


def status(base: str, path: str, token: str | None, **headers) -> int:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(base + path, headers=headers, timeout=10).status_code


@pytest.fixture(scope="session", autouse=True)
def replicas_up():
    """Every gateway and backend answers, and each gateway knows both backends."""
    for base in GATEWAYS:
        try:
            requests.get(f"{base}/api/health", timeout=5).raise_for_status()
        except requests.RequestException as exc:
            pytest.fail(f"gateway {base} is not up ({exc}); run tests/stack_replicas/run")
    for base in BACKENDS:
        try:
            requests.get(f"{base}/api/health/ready", timeout=5).raise_for_status()
        except requests.RequestException as exc:
            pytest.fail(f"backend {base} is not up ({exc}); run tests/stack_replicas/run")
    stack_dir = Path(os.environ.get("STACK_DIR", ROOT / ".stack"))
    second = BACKENDS[1].rsplit("/", 1)[1]
    for conf in ("gateway.conf", "gateway2.conf"):
        text = (stack_dir / "nginx" / conf).read_text()
        assert f"http://{second}/api/internal/revocations" in text, f"{conf} does not poll {second}"
    notes_pid = stack("pid", "notes").stdout.strip()
    environ = Path(f"/proc/{notes_pid}/environ").read_bytes().split(b"\0")
    feed = next((v for v in environ if v.startswith(b"AUTHGW_REVOCATIONS_URL=")), b"(not set)").decode()
    assert f"http://{second}/api/internal/revocations" in feed, f"the notes service does not poll {second}: {feed}"

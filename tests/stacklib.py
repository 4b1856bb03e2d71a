"""Helpers of the suites that run against the native stack: tests/stack,
tests/stack_replicas and tests/faults.

``scripts/stack`` (the user's own script), a browser-like sign-in through
the gateway, the dev IdP and the callback (docs/interface.md), polling, and
free ports. Each of those suites' ``pytest.ini`` puts this folder on
``sys.path`` (pytest's ``pythonpath`` setting), so ``import stacklib``
works from a fresh clone whichever suite runs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
#: The gateway of the stack under test (``scripts/test`` sets ``STACK_URL``).
BASE_URL = os.environ.get("STACK_URL", "http://localhost:%s" % os.environ.get("GATEWAY_PORT", "8080")).rstrip("/")

T = TypeVar("T")


def stack(*args: str, env: dict | None = None, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``scripts/stack <args>`` with this environment plus ``env``.

    Args:
        args: the script's words (``"restart", "backend"``).
        env: variables to set (or override) for this one call.
        check: raise when the script exits non-zero.
        timeout: seconds before ``subprocess.TimeoutExpired``.

    Returns:
        The finished process, its output captured as text.

    Raises:
        AssertionError: ``check`` and a non-zero exit, with the end of its stderr.
    """
    done = subprocess.run([str(ROOT / "scripts" / "stack"), *args], cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"scripts/stack {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def unique_email(prefix: str = "user") -> str:
    """An address at example.com (RFC 2606) that no earlier test or run used."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.2) -> tuple[T, float]:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy
    or ``timeout`` seconds have passed; return (its last value, seconds waited)."""
    start = time.monotonic()
    while True:
        value = predicate()
        elapsed = time.monotonic() - start
        if value or elapsed > timeout:
            return value, elapsed
        time.sleep(interval)


@dataclass(eq=False)  # one sign-in is one object (hashable, compared by identity)
class LoginResult:
    """A browser sign-in: the ``requests.Session`` that holds the refresh cookie,
    the access token and the rest of the callback's fragment, the callback's answer."""

    session: requests.Session
    access_token: str = field(repr=False)  # tokens never in a test report
    fragment: dict = field(default_factory=dict, repr=False)  # holds the access token too
    callback_response: requests.Response | None = None

    @property
    def auth(self) -> dict:
        """The ``Authorization`` header of the access token (RFC 6750 §2.1)."""
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def refresh_cookie(self) -> str | None:
        return self.session.cookies.get("refresh_token")


def start_login(session: requests.Session, email: str | None = None, next_path: str = "/",
                base_url: str = BASE_URL, timeout: float = 10) -> str:
    """Follow ``GET /api/auth/login`` through the dev IdP; return the callback URL
    (code and state) the IdP sends the browser to, not yet requested."""
    params = {"next": next_path}
    if email:
        params["login_hint"] = email
    start = session.get(f"{base_url}/api/auth/login", params=params, allow_redirects=False, timeout=timeout)
    assert start.status_code == 302, (start.status_code, start.text[:300])
    at_idp = session.get(start.headers["Location"], allow_redirects=False, timeout=timeout)
    assert at_idp.status_code in (302, 303), (at_idp.status_code, at_idp.text[:300])
    return at_idp.headers["Location"]


def login_result(session: requests.Session, callback: requests.Response) -> LoginResult:
    """The sign-in that the callback's answer (``303`` to the SPA, tokens in the fragment) completed."""
    assert callback.status_code == 303, (callback.status_code, callback.text[:300])
    location = urlsplit(callback.headers["Location"])
    fragment = {k: v[0] for k, v in parse_qs(location.fragment).items()}
    token = fragment.get("access_token")
    assert token, f"no access token in {location.path}?{location.query}"
    return LoginResult(session, token, fragment, callback)


def browser_login(email: str | None = None, next_path: str = "/", session: requests.Session | None = None,
                  base_url: str = BASE_URL, user_agent: str = "authgw-stack-tests", timeout: float = 10) -> LoginResult:
    """Sign in like a browser: gateway at ``base_url`` → dev IdP → callback → fragment.

    Returns:
        LoginResult with the access token from the fragment and the
        ``requests.Session`` holding the refresh cookie.
    """
    session = session or requests.Session()
    session.headers["User-Agent"] = user_agent
    callback_url = start_login(session, email, next_path, base_url, timeout)
    return login_result(session, session.get(callback_url, allow_redirects=False, timeout=timeout))

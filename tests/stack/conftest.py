"""Fixtures for tests against the running native stack, through the gateway.

The stack is started by ``scripts/stack up`` (``scripts/test`` does it);
nothing here mocks a part: real MariaDB, nginx, gunicorn and dev IdP.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
from schemathesis.core.failures import FailureGroup

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


# --- every answer from the gateway, checked against the OpenAPI document ------------
# docs/operations.md "API documentation": the stack tests prove the document by
# validating each answer they receive from the gateway's origin whose path and method
# the document describes: the status is documented for that operation, the media type
# is one it lists for that status, and the body matches its schema (schemathesis'
# own response check). Answers to paths outside the document (the SPA's `/`,
# `/auth/callback`, `/assets/*`, `/metrics`, unknown `/api/...` paths, the dev IdP and
# the notes service's own port) match no operation and are not checked.

#: Requests the gateway refuses before routing, which the document (of operations,
#: not of every malformed request line) does not describe, so their answers are
#: not checked: a control byte percent-encoded in the path (NUL, CR, LF: the gateway
#: answers 400 for any path) and a header block larger than the gateway's header
#: buffers (nginx ``large_client_header_buffers``, 8 KiB a line: 400/431/494).
_CONTROL_IN_PATH = re.compile(r"%[01][0-9a-f]|%7f", re.IGNORECASE)
_OVERSIZED_HEADERS = 8 * 1024

_mismatches: list[str] = []
_mismatches_lock = threading.Lock()
#: How many answers were checked against the document, and how many the rules above skipped.
checked_answers = skipped_answers = 0


def _skipped(request: requests.PreparedRequest) -> bool:
    path = urlsplit(request.url).path
    headers_size = sum(len(k) + len(v) for k, v in request.headers.items() if isinstance(v, str))
    return bool(_CONTROL_IN_PATH.search(path)) or headers_size > _OVERSIZED_HEADERS


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _conformance_problems(schema, response: requests.Response) -> list[str] | None:
    """Problems of ``response`` against the document; None when no operation is documented there."""
    request = response.request
    path = urlsplit(request.url).path
    operation = schema.find_operation_by_path(request.method, path)
    if operation is None:
        return None
    definition = operation.responses.find_by_status_code(response.status_code)
    if definition is None:
        documented = ", ".join(sorted(operation.responses.status_codes))
        return [f"status {response.status_code} is not documented for {operation.label} (documented: {documented})"]
    problems = []
    documented_types = schema.get_content_types(operation, schemathesis.Response.from_any(response))
    actual = _media_type(response.headers.get("Content-Type"))
    if documented_types and response.content:
        if not any(actual == _media_type(t) or (_media_type(t).endswith("/*") and actual.startswith(_media_type(t)[:-1]))
                   or _media_type(t) == "*/*" for t in documented_types):
            problems.append(f"Content-Type {actual or '(none)'} is not one of {', '.join(documented_types)}")
    try:
        operation.validate_response(response)
    except FailureGroup as group:
        for failure in group.exceptions:
            problems.append(str(failure).split("\n\nSchema:", 1)[0].strip().replace("\n\n", ": "))
    except Exception as exc:  # a failure schemathesis raises alone
        problems.append(str(exc).split("\n\nSchema:", 1)[0].strip())
    return problems


@pytest.fixture(scope="session", autouse=True)
def answers_match_the_document():
    """Patch ``requests.Session.send`` (so ``requests.get`` and every ``browser_login``
    session too) to check each answer from ``BASE_URL`` against ``/api/openapi.json``."""
    try:
        document = requests.get(f"{BASE_URL}/api/openapi.json", timeout=10).json()
    except (requests.RequestException, ValueError) as exc:
        pytest.fail(f"no OpenAPI document at {BASE_URL}/api/openapi.json ({exc}); run scripts/stack up")
    schema = schemathesis.openapi.from_dict(document)
    original_send = requests.Session.send
    origin = urlsplit(BASE_URL)

    def send(self, request, **kwargs):
        global checked_answers, skipped_answers
        response = original_send(self, request, **kwargs)
        target = urlsplit(request.url)
        if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
            return response
        if _skipped(request):
            with _mismatches_lock:
                skipped_answers += 1
            return response
        if kwargs.get("stream"):
            response.content  # noqa: B018 - read it once, requests keeps it for the caller
        problems = _conformance_problems(schema, response)
        if problems is None:
            return response
        with _mismatches_lock:
            checked_answers += 1
            _mismatches.extend(f"{request.method} {target.path} -> {response.status_code}: {problem}" for problem in problems)
        return response

    requests.Session.send = send
    yield
    requests.Session.send = original_send
    print(f"\n{checked_answers} answers from the gateway checked against the OpenAPI document"
          f" ({skipped_answers} malformed requests' answers skipped)")


def _take_mismatches() -> list[str]:
    with _mismatches_lock:
        taken = list(_mismatches)
        _mismatches.clear()
    return taken


def _mismatch_report(mismatches: list[str]) -> str:
    return "answers outside the OpenAPI document:\n  " + "\n  ".join(mismatches)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test that received an answer the document does not describe (its set-up's included)."""
    try:
        result = yield
    except BaseException as exc:
        if mismatches := _take_mismatches():
            exc.add_note(_mismatch_report(mismatches))
        raise
    if mismatches := _take_mismatches():
        raise AssertionError(_mismatch_report(mismatches))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Report answers received while tearing the test's fixtures down as that test's error."""
    result = yield
    if mismatches := _take_mismatches():
        raise AssertionError(_mismatch_report(mismatches))
    return result

"""Fixtures for tests against the running native stack, through the gateway.

The stack is started by ``scripts/stack up`` (``scripts/test`` does it);
nothing here mocks a part: real MariaDB, nginx, gunicorn and dev IdP. The
helpers the tests call (sign-in, ``scripts/stack``, polling) are in
tests/stacklib.py.
"""

from __future__ import annotations

import os
import re
import threading
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from schemathesis.core.failures import FailureGroup

from stacklib import BASE_URL, LoginResult, browser_login, unique_email

#: The first of ADMIN_EMAILS (``scripts/test`` starts the stack with ``ADMIN_EMAILS=admin@example.com``).
ADMIN_EMAIL = os.environ.get("ADMIN_EMAILS", "admin@example.com").split(",")[0]


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

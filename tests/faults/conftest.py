"""The fault suite: real processes of the native stack frozen (SIGSTOP) or killed (SIGKILL).

Run by ``scripts/test`` after the stack tests, against the stack that
``scripts/stack up`` started (``STACK_URL``, ``STACK_DIR`` and the
``*_PORT`` variables of ``scripts/test`` name it). Every test leaves the
stack as it found it: a frozen process is always thawed, a killed one is
started again through ``scripts/stack``. The table of what each fault got
is printed at the end of the run.
"""

from __future__ import annotations

import pytest
import requests

from faultlib import NOTES_URL, TABLE
from stacklib import BASE_URL, stack


@pytest.fixture(scope="session", autouse=True)
def stack_up():
    """Fail early, and clearly, when the native stack is not running or not healthy."""
    try:
        requests.get(f"{BASE_URL}/api/health/ready", timeout=5).raise_for_status()
        requests.get(f"{NOTES_URL}/readyz", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(f"the native stack is not up at {BASE_URL} ({exc}); run scripts/stack up")
    yield
    # A test that failed half-way must not leave a part down for the next suite.
    status = stack("status", check=False)
    if status.returncode != 0:
        stack("up", check=False)


def pytest_terminal_summary(terminalreporter):
    if TABLE.rows:
        terminalreporter.write_sep("=", "fault table (bounds: docs/operations.md \"Timeouts and fallbacks\")")
        terminalreporter.write_line(TABLE.render())

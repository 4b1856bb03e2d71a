"""Tools of the fault suite: real processes frozen or killed by PID, timed requests, the fault table.

A *hung* part is a process stopped with ``SIGSTOP``: its sockets still
accept connections (the kernel completes the handshake) but nothing
answers, which is what a wedged database or a stuck worker looks like to
its clients. A *dead* part is ``SIGKILL``-ed and started again through
``scripts/stack`` (the user's own script), as an operator would.

The promises checked are those of docs/operations.md "Timeouts and
fallbacks".
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

import requests

from stacklib import BASE_URL, LoginResult, login_result, stack, start_login, unique_email, wait_until

NOTES_URL = "http://127.0.0.1:%s" % os.environ.get("NOTES_PORT", "8200")
#: Client-side cap on any one request (s): far above every bound, so a hang shows as a failed bound, not a stuck suite.
CLIENT_TIMEOUT = 20.0


def pid_of(service: str) -> int:
    """The PID of ``service``'s main process as supervisord reports it (``scripts/stack pid``)."""
    return int(stack("pid", service).stdout.strip())


def group_pids(pgid: int) -> list[int]:
    """Every live process of process group ``pgid`` (supervisord starts each program as its own group)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,pgid=,stat="], capture_output=True, text=True, check=True).stdout
    return [int(p) for p, g, s in (line.split()[:3] for line in out.splitlines() if line.strip())
            if int(g) == pgid and not s.startswith("Z")]


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (a gunicorn master's workers)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@contextlib.contextmanager
def frozen(service: str) -> Iterator[float]:
    """Stop every process of ``service`` (``SIGSTOP`` to its process group) for the ``with`` body.

    Yields the ``time.monotonic()`` of the freeze. ``SIGCONT`` is always
    sent on the way out, also when the body fails.
    """
    pgid = pid_of(service)
    os.killpg(pgid, signal.SIGSTOP)
    try:
        yield time.monotonic()
    finally:
        os.killpg(pgid, signal.SIGCONT)


def killed(service: str) -> None:
    """``SIGKILL`` every process of ``service`` and wait until supervisord saw it die."""
    pgid = pid_of(service)
    os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while group_pids(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass
class Answer:
    """One request's outcome: ``status`` (``None`` when no HTTP answer came), seconds, the response."""

    status: int | None
    seconds: float
    response: requests.Response | None = None
    error: str = ""

    def json(self) -> dict:
        try:
            body = self.response.json() if self.response is not None else None
        except ValueError:
            body = None
        return body if isinstance(body, dict) else {}


def timed(call: Callable[[], requests.Response]) -> Answer:
    """Run one request, timing it; a transport error gives ``Answer(None, ...)``."""
    start = time.monotonic()
    try:
        response = call()
    except requests.RequestException as exc:
        return Answer(None, time.monotonic() - start, None, type(exc).__name__)
    return Answer(response.status_code, time.monotonic() - start, response)


def in_parallel(calls: list[Callable[[], requests.Response]]) -> list[Answer]:
    """Run ``calls`` at once (one thread each); their answers, in order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(timed, calls))


@contextlib.contextmanager
def under_load(users: list, calls: Callable[[object], list[Callable[[], requests.Response]]], seconds: float,
               pause: float = 0.0) -> Iterator[list[Answer]]:
    """Load the stack for the ``with`` body: one thread per user sends ``calls(user)``, in order, over
    and over (``pause`` seconds between rounds) until ``seconds`` have passed since the start.

    Yields the list the answers are appended to as they come; on the way out waits for every
    thread and re-raises the first error one of them had.
    """
    stop = time.monotonic() + seconds
    answers: list[Answer] = []

    def keep_calling(user) -> None:
        while time.monotonic() < stop:
            answers.extend(timed(call) for call in calls(user))
            time.sleep(pause)

    with ThreadPoolExecutor(len(users)) as pool:
        running = [pool.submit(keep_calling, user) for user in users]
        yield answers
        for future in running:
            future.result()


def assert_json_error(answer: Answer, statuses: tuple[int, ...], bound: float, what: str) -> None:
    """``answer`` is one of ``statuses`` within ``bound`` seconds with ``{"error", "error_description"}``;
    a ``503`` also carries ``Retry-After``."""
    assert answer.status in statuses, f"{what}: {answer.status} {answer.error} after {answer.seconds:.2f} s"
    assert answer.seconds <= bound, f"{what}: answered after {answer.seconds:.2f} s (bound {bound} s)"
    body = answer.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("error_description"), str), \
        f"{what}: not the JSON error shape: {answer.response.text[:200]!r}"
    if answer.status == 503:
        assert answer.response.headers.get("Retry-After", "").isdigit(), f"{what}: 503 without Retry-After"


class User(LoginResult):
    """A browser-like client signed in through the gateway, the dev IdP and the callback;
    ``login`` fills in the access token, ``refresh`` replaces it."""

    def __init__(self, email: str | None = None):
        super().__init__(requests.Session(), "")
        self.email = email or unique_email("fault")
        self.session.headers["User-Agent"] = "authgw-fault-tests"

    def start_login(self) -> str:
        """Follow ``/api/auth/login`` through the dev IdP; return the callback URL (code and state)."""
        return start_login(self.session, self.email, timeout=CLIENT_TIMEOUT)

    def callback(self, url: str) -> requests.Response:
        return self.session.get(url, allow_redirects=False, timeout=CLIENT_TIMEOUT)

    def login(self) -> "User":
        """Sign in; keep the access token of the callback's fragment (the refresh cookie stays in the session).

        A ``503`` at the callback starts the sign-in again, for at most 5 s: after an earlier
        fault a backend worker's database breaker can still be open (``OPEN_SECONDS``), and a
        test's own users must not depend on which worker their first requests reach."""
        result = login_result(self.session, past_503(lambda: self.callback(self.start_login())))
        self.access_token, self.fragment, self.callback_response = \
            result.access_token, result.fragment, result.callback_response
        return self

    def refresh(self) -> requests.Response:
        """``POST /api/auth/refresh`` with the cookie; on 200 keep the new access token."""
        response = self.session.post(f"{BASE_URL}/api/auth/refresh", headers={"Origin": BASE_URL},
                                     timeout=CLIENT_TIMEOUT)
        if response.status_code == 200:
            self.access_token = response.json()["access_token"]
        return response

    def get(self, path: str, **kw) -> requests.Response:
        """``GET`` through the gateway with this user's access token."""
        return requests.get(f"{BASE_URL}{path}", headers=self.auth, **{"timeout": CLIENT_TIMEOUT, **kw})

    def post(self, path: str, **kw) -> requests.Response:
        """``POST`` through the gateway with this user's access token."""
        return requests.post(f"{BASE_URL}{path}", headers=self.auth, **{"timeout": CLIENT_TIMEOUT, **kw})


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> float | None:
    """Seconds until ``predicate()`` held (polled every ``interval``; a transport error counts as
    not yet), or ``None`` after ``timeout``."""
    def holds() -> bool:
        try:
            return bool(predicate())
        except requests.RequestException:
            return False

    held, seconds = wait_until(holds, timeout, interval)
    return seconds if held else None


def past_503(call: Callable[[], requests.Response], timeout: float = 5.0) -> requests.Response:
    """``call()`` again while it answers 503 (a backend worker whose database breaker is still open), at most
    ``timeout`` seconds; the first other answer (or the last 503)."""
    deadline = time.monotonic() + timeout
    while True:
        response = call()
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


@dataclass
class FaultRow:
    """One line of the fault table."""

    fault: str
    answers: Counter = field(default_factory=Counter)
    worst: float = 0.0
    recovered: float | None = None

    def saw(self, *answers: Answer) -> None:
        for answer in answers:
            self.answers[str(answer.status) if answer.status else answer.error or "none"] += 1
            self.worst = max(self.worst, answer.seconds)


class FaultTable:
    """The table printed at the end of the run (fault -> answers, worst latency, recovered after)."""

    def __init__(self):
        self.rows: list[FaultRow] = []
        self._lock = threading.Lock()

    def row(self, fault: str) -> FaultRow:
        with self._lock:
            self.rows.append(FaultRow(fault))
            return self.rows[-1]

    def render(self) -> str:
        lines = [f"{'fault':<44} {'answers':<34} {'worst':>7} {'recovered':>10}"]
        for r in self.rows:
            answers = " ".join(f"{k}x{v}" for k, v in sorted(r.answers.items()))
            back = "-" if r.recovered is None else f"{r.recovered:.2f} s"
            lines.append(f"{r.fault:<44} {answers:<34} {r.worst:>6.2f}s {back:>10}")
        return "\n".join(lines)


TABLE = FaultTable()

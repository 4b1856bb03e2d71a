"""Follow the backend's revocation feed and apply its three rules.

The backend serves a full snapshot at ``GET /api/internal/revocations``
(docs/kit.md, "Revocation feed")::

    {"generated_at": 1764750000.25, "window": 930,
     "sessions": {"<sid>": 1764749990},     # session revoked at
     "subjects": {"<sub>": 1764749991},     # tokens of sub with iat < value refused
     "roles":    {"<role>": 1764749992}}    # tokens holding role with iat < value refused

:class:`RevocationList` polls it every ``poll_interval`` seconds in a
daemon thread (or calls a ``fetch`` callable, which the backend uses to
read its own database), keeps the last good snapshot, and refuses tokens
by the rules of :meth:`RevocationList.check`. When no poll has succeeded
for ``trust_window`` seconds (or none ever did), :meth:`check` raises
:class:`VerifierUnavailable` (503, ``Retry-After: 5``): the service fails
closed, but only after trusting its last list for that long, so a backend
restart or a short database outage does not stop valid tokens.

The thread starts on first use, in the process that uses it: a gunicorn
master that imports the app before forking (``preload_app``) starts no
thread, and a forked worker starts its own (the pid is checked).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence


from ._http import JSONResource
from .errors import InvalidToken, VerifierUnavailable

log = logging.getLogger("authgw_kit")


def _number_map(value: Any, name: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"revocation snapshot: {name!r} must be an object")
    out: dict[str, float] = {}
    for key, when in value.items():
        if not isinstance(key, str) or isinstance(when, bool) or not isinstance(when, (int, float)):
            raise ValueError(f"revocation snapshot: {name!r} maps strings to numbers")
        out[key] = when
    return out


@dataclass(frozen=True)
class RevocationSnapshot:
    """One parsed feed answer.

    Attributes:
        sessions (dict[str, float]): revoked ``sid`` -> revoked at (Unix s).
        subjects (dict[str, float]): ``sub`` -> not-before (Unix s).
        roles (dict[str, float]): role -> not-before (Unix s).
        generated_at (float | None): the backend's clock, Unix seconds.
    """

    sessions: dict[str, float] = field(default_factory=dict)
    subjects: dict[str, float] = field(default_factory=dict)
    roles: dict[str, float] = field(default_factory=dict)
    generated_at: float | None = None

    @classmethod
    def parse(cls, data: Any) -> "RevocationSnapshot":
        """Validate a feed answer.

        Raises:
            ValueError: not an object, or a map of the wrong shape.
                ``subjects`` and ``roles`` may be absent (older backends).
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("sessions"), Mapping):
            raise ValueError('revocation snapshot must be an object with a "sessions" object')
        generated_at = data.get("generated_at")
        return cls(sessions=_number_map(data["sessions"], "sessions"),
                   subjects=_number_map(data.get("subjects"), "subjects"),
                   roles=_number_map(data.get("roles"), "roles"),
                   generated_at=generated_at if isinstance(generated_at, (int, float)) else None)

    def refusal(self, claims: Mapping[str, Any]) -> str | None:
        """Return why these verified claims are revoked, or None.

        The rules (docs/kit.md, "Revocation feed"):

        1. ``sid`` is in ``sessions``;
        2. ``subjects[sub]`` exists and ``iat < subjects[sub]``;
        3. a role ``r`` of ``roles`` has ``roles[r]`` and ``iat < roles[r]``.
        """
        if claims.get("sid") in self.sessions:
            return "The session of this access token was revoked."
        iat = claims.get("iat", 0)
        if self.subjects:
            not_before = self.subjects.get(claims.get("sub"))
            if not_before is not None and iat < not_before:
                return "This access token predates a change of the account; refresh it."
        if self.roles:
            for role in claims.get("roles", ()):
                not_before = self.roles.get(role)
                if not_before is not None and iat < not_before:
                    return "This access token predates a change of its roles; refresh it."
        return None


class RevocationList:
    """The last known revocation snapshot, kept fresh by polling.

    Give exactly one of ``url`` or ``fetch``.

    Args:
        url (str | Sequence[str] | None): the feed URL
            (``http://127.0.0.1:8000/api/internal/revocations``), or the URLs
            of several backend replicas, tried in turn from the one that
            answered last (:class:`JSONResource`).
        fetch (Callable[[], Mapping] | None): returns a snapshot dict
            (the backend passes one reading its database); may raise any
            Exception to report a failed poll.
        poll_interval (float): seconds between polls (default 1).
        trust_window (float): seconds the last good snapshot is trusted
            when polls fail; older (or none) -> 503 (default 60).
        http_timeout (float): connect and read timeout per poll, seconds (default 2).
        retry_after (int): ``Retry-After`` of the 503, seconds (default 5).
        clock (Callable[[], float]): monotonic seconds (tests).
        background (bool): poll in a daemon thread (default); False for
            tests, which call :meth:`refresh_now`.

    Raises:
        ValueError: neither or both of ``url`` and ``fetch``, or a
            non-positive interval.
    """

    def __init__(self, url: str | Sequence[str] | None = None, *, fetch: Callable[[], Mapping[str, Any]] | None = None,
                 poll_interval: float = 1.0, trust_window: float = 60.0, http_timeout: float = 2.0,
                 retry_after: int = 5, clock: Callable[[], float] = time.monotonic, background: bool = True):
        if (url is None) == (fetch is None):
            raise ValueError("RevocationList needs exactly one of url= or fetch=")
        if poll_interval <= 0 or trust_window <= 0 or http_timeout <= 0:
            raise ValueError("poll_interval, trust_window and http_timeout must be positive seconds")
        self.resource = JSONResource(url, http_timeout, keep_alive=True) if url is not None else None
        self.poll_interval = float(poll_interval)
        self.trust_window = float(trust_window)
        self.retry_after = int(retry_after)
        self.background = background
        self._fetch = fetch or self._fetch_url
        self._clock = clock
        self._snapshot: RevocationSnapshot | None = None
        self._last_success: float | None = None
        self._reset_after_fork()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: (lambda s: s and s._reset_after_fork())(ref()))

    @property
    def url(self) -> str | None:
        """The feed URL (with several: the one that answered last), or None with ``fetch``."""
        return self.resource.url if self.resource is not None else None

    def _reset_after_fork(self) -> None:
        # A lock held by another thread at fork time would stay held for ever
        # in the child, and the parent's thread does not exist there.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        if self.resource is not None:
            self.resource.forget_connections()

    def _fetch_url(self) -> Mapping[str, Any]:
        return self.resource.get()[0]

    def refresh_now(self) -> bool:
        """Poll once, synchronously.

        Returns:
            bool: True when a valid snapshot was stored. A failure is logged
            (without the feed's content) and keeps the previous snapshot.
        """
        try:
            snapshot = RevocationSnapshot.parse(self._fetch())
        except Exception as exc:  # noqa: BLE001 - any failure of the fetch is a failed poll
            log.warning("revocation feed poll failed: %s", type(exc).__name__)
            return False
        self._snapshot = snapshot
        self._last_success = self._clock()
        return True

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.poll_interval):
            self.refresh_now()

    def start(self) -> None:
        """Start polling in this process (idempotent; restarts after a fork)."""
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            if self._last_success is None:
                self.refresh_now()
            if self.background:
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                                name="authgw-revocations", daemon=True)
                self._thread.start()
            self._pid = pid

    def close(self) -> None:
        """Stop the polling thread (it is a daemon: optional at exit)."""
        self._stop.set()
        self._pid = None

    @property
    def snapshot(self) -> RevocationSnapshot | None:
        """The last good snapshot, or None."""
        return self._snapshot

    def age(self) -> float | None:
        """Seconds since the last good poll, or None if there never was one."""
        return None if self._last_success is None else self._clock() - self._last_success

    def current(self) -> RevocationSnapshot:
        """Return the snapshot to judge by, starting the poller on first use.

        Raises:
            VerifierUnavailable: no good poll ever, or the last one is older
                than ``trust_window``.
        """
        if self._pid != os.getpid():
            self.start()
        last = self._last_success
        if last is None or self._clock() - last > self.trust_window:
            raise VerifierUnavailable("The revocation list could not be refreshed; retry shortly.",
                                      retry_after=self.retry_after)
        return self._snapshot  # type: ignore[return-value]

    def check(self, claims: Mapping[str, Any]) -> None:
        """Refuse verified claims that the feed revokes.

        Args:
            claims: verified access-token claims (``sid``, ``sub``, ``iat``, ``roles``).

        Raises:
            InvalidToken: revoked by one of the rules of
                :meth:`RevocationSnapshot.refusal`.
            VerifierUnavailable: the list is not fresh enough to judge by.
        """
        reason = self.current().refusal(claims)
        if reason is not None:
            raise InvalidToken(reason)

"""The one HTTP GET of JSON that the kit's two pollers share (JWK Set, revocation feed)."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import requests

from .settings import url_list

log = logging.getLogger("authgw_kit")


class JSONResource:
    """A JSON document fetched with ``GET`` (``Accept: application/json``),
    from one URL or from several (replicas of the backend, docs/kit.md
    "Several backends").

    With several URLs a fetch starts at the one that answered last and tries
    the others in turn (one warning line per fall-over); it fails only when
    every one fails. ``timeout`` bounds each connect and each read of each
    attempt (requests' timeout), not the fetch as a whole.

    Args:
        url (str | Sequence[str]): where the document is: one URL, several
            separated by commas or white space, or a sequence of URLs.
        timeout (float): connect timeout and read timeout (between two bytes)
            of each attempt, seconds.
        session (requests.Session | None): HTTP session to use (tests);
            without one, a fetch opens its own connection, or with
            ``keep_alive`` reuses one held by this object.
        keep_alive (bool): keep a connection between fetches (a poller
            asking every second); :meth:`forget_connections` drops it.

    Raises:
        ValueError: no URL given.
    """

    def __init__(self, url: str | Sequence[str], timeout: float, session: requests.Session | None = None, *,
                 keep_alive: bool = False):
        self.urls = url_list(url)
        if not self.urls:
            raise ValueError("JSONResource needs at least one URL")
        self.timeout = float(timeout)
        self.keep_alive = keep_alive
        self._given = session
        self._own: requests.Session | None = None
        self._current = 0

    @property
    def url(self) -> str:
        """The URL the next fetch starts with (the one that answered last)."""
        return self.urls[self._current]

    def get(self) -> tuple[Any, Mapping[str, str]]:
        """Fetch the document.

        Returns:
            (document, headers): the parsed JSON and the response headers
            (case-insensitive mapping).

        Raises:
            requests.RequestException: every URL failed or answered a status
                other than 2xx (the last URL's error).
            ValueError, RecursionError: every URL failed, the last with a body
                that is not JSON (or nested too deeply to parse).
        """
        session: Any = self._given
        if session is None and self.keep_alive:
            if self._own is None:
                self._own = requests.Session()
            session = self._own
        start, count = self._current, len(self.urls)
        for step in range(count):
            index = (start + step) % count
            try:
                response = (session or requests).get(self.urls[index], timeout=self.timeout,
                                                      headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            except (requests.RequestException, ValueError, RecursionError) as exc:
                if step == count - 1:
                    raise
                log.warning("fetch from %s failed (%s); trying %s", self.urls[index], type(exc).__name__,
                            self.urls[(index + 1) % count])
                continue
            self._current = index
            return document, response.headers
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def forget_connections(self) -> None:
        """Drop the kept connection (after a fork: the parent's socket is not ours)."""
        self._own = None

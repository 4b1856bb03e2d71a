"""The one HTTP GET of JSON that the kit's two pollers share (JWK Set, revocation feed)."""

from __future__ import annotations

from typing import Any, Mapping

import requests


class JSONResource:
    """A JSON document fetched with ``GET`` (``Accept: application/json``).

    Args:
        url (str): where the document is.
        timeout (float): connect and read timeout of each fetch, seconds.
        session (requests.Session | None): HTTP session to use (tests);
            without one, a fetch opens its own connection, or with
            ``keep_alive`` reuses one held by this object.
        keep_alive (bool): keep a connection between fetches (a poller
            asking every second); :meth:`forget_connections` drops it.
    """

    def __init__(self, url: str, timeout: float, session: requests.Session | None = None, *,
                 keep_alive: bool = False):
        self.url = url
        self.timeout = float(timeout)
        self.keep_alive = keep_alive
        self._given = session
        self._own: requests.Session | None = None

    def get(self) -> tuple[Any, Mapping[str, str]]:
        """Fetch the document.

        Returns:
            (document, headers): the parsed JSON and the response headers
            (case-insensitive mapping).

        Raises:
            requests.RequestException: the request failed or the status is not 2xx.
            ValueError: the body is not JSON.
        """
        session: Any = self._given
        if session is None and self.keep_alive:
            if self._own is None:
                self._own = requests.Session()
            session = self._own
        response = (session or requests).get(self.url, timeout=self.timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        return response.json(), response.headers

    def forget_connections(self) -> None:
        """Drop the kept connection (after a fork: the parent's socket is not ours)."""
        self._own = None

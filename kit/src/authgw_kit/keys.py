"""Verification keys: a JWK Set fetched over HTTP, or given in process.

Two key sources share one small interface (``get_key(kid)`` and a
``generation`` counter that changes when the key material does):

- :class:`JWKSClient` fetches the issuer's JWK Set (RFC 7517 §5), caches it
  for the lifetime its ``Cache-Control: max-age`` states (bounded), and on
  an unknown ``kid`` fetches again at most once per ``refetch_interval``
  seconds, so a key rotation needs no restart while a flood of made-up
  ``kid`` values costs at most one request per interval. Shaped like
  PyJWT's ``PyJWKClient``.
- :class:`StaticKeys` holds keys given in process (a JWK Set dict, or key
  objects already loaded), for the backend and for tests.

Each key is parsed once, when the set is loaded, never per request, and it
carries the one algorithm it may verify (its JWK ``alg``, or the algorithm
its type implies): a token's ``alg`` must equal it (RFC 8725 §3.1).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import jwt
import requests

from ._http import JSONResource
from .settings import url_list
from .errors import VerifierUnavailable

log = logging.getLogger("authgw_kit")

#: Algorithms the kit knows how to pin (asymmetric only: RFC 8725 §3.2).
SUPPORTED_ALGORITHMS = frozenset({"ES256", "RS256"})
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)\"?", re.I)


@dataclass(frozen=True)
class VerificationKey:
    """One public key and the single algorithm it verifies.

    Attributes:
        kid (str): the JWK ``kid``.
        algorithm (str): ``ES256`` or ``RS256``.
        key (object): the ``cryptography`` public key object.
    """

    kid: str
    algorithm: str
    key: Any = field(repr=False)


class KeySource(Protocol):
    """What :class:`authgw_kit.TokenVerifier` needs from a key source."""

    generation: int

    def get_key(self, kid: str) -> VerificationKey | None:
        """Return the key named ``kid``, or None when it is unknown."""


def keys_from_jwks(jwks: Mapping[str, Any], algorithms: Iterable[str] = ("ES256", "RS256")) -> dict[str, VerificationKey]:
    """Parse a JWK Set into verification keys, skipping what cannot be used.

    Args:
        jwks: ``{"keys": [jwk, ...]}`` (RFC 7517 §5).
        algorithms: algorithms accepted; a key for any other is skipped.

    Returns:
        dict[str, VerificationKey]: by ``kid``. Keys without a string
        ``kid``, with ``use`` other than ``sig``, of an unsupported type or
        algorithm, or malformed, are skipped with a warning.

    Raises:
        ValueError: ``jwks`` is not an object with a ``keys`` array.
    """
    allowed = set(algorithms) & SUPPORTED_ALGORITHMS
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError('a JWK Set is an object with a "keys" array (RFC 7517 §5)')
    keys: dict[str, VerificationKey] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("kid"), str) or not entry["kid"]:
            log.warning("JWK without a kid skipped")
            continue
        kid = entry["kid"]
        if entry.get("use", "sig") != "sig":
            continue
        try:
            parsed = jwt.PyJWK(dict(entry))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            log.warning("JWK %r skipped: %s", kid, exc)
            continue
        algorithm = parsed.algorithm_name
        if algorithm not in allowed:
            log.warning("JWK %r skipped: algorithm %s not accepted", kid, algorithm)
            continue
        keys[kid] = VerificationKey(kid=kid, algorithm=algorithm, key=parsed.key)
    return keys


class StaticKeys:
    """Keys given in process: no HTTP, no expiry.

    Args:
        jwks (Mapping | None): a JWK Set ``{"keys": [...]}``.
        algorithms (Iterable[str]): algorithms accepted (default ES256 and RS256).
        keys (Iterable[VerificationKey] | None): keys already loaded (the
            backend passes its own key objects), added to those of ``jwks``.

    Raises:
        ValueError: ``jwks`` is malformed.
    """

    def __init__(self, jwks: Mapping[str, Any] | None = None, *, algorithms: Iterable[str] = ("ES256", "RS256"),
                 keys: Iterable[VerificationKey] | None = None):
        self.generation = 1
        self._keys: dict[str, VerificationKey] = keys_from_jwks(jwks, algorithms) if jwks is not None else {}
        for key in keys or ():
            self._keys[key.kid] = key

    def get_key(self, kid: str) -> VerificationKey | None:
        """Return the key named ``kid``, or None."""
        return self._keys.get(kid)

    @property
    def kids(self) -> list[str]:
        """The ``kid`` of every key held."""
        return list(self._keys)


def cache_lifetime(cache_control: str | None, default: float, minimum: float, maximum: float) -> float:
    """Return how long to keep a fetched JWK Set, in seconds.

    Args:
        cache_control: the response's ``Cache-Control`` header (RFC 9111 §5.2.2).
        default: seconds when the header gives no ``max-age``.
        minimum, maximum: bounds applied to any value (``no-store`` and
            ``no-cache`` count as 0, hence ``minimum``).
    """
    value = default
    if cache_control:
        lowered = cache_control.lower()
        match = _MAX_AGE.search(lowered)
        if "no-store" in lowered or "no-cache" in lowered:
            value = 0
        elif match:
            value = int(match.group(1))
    return float(min(max(value, minimum), maximum))


class JWKSClient:
    """Fetch and cache the issuer's JWK Set (RFC 7517), like PyJWT's ``PyJWKClient``.

    The set is fetched on first use, kept for the ``Cache-Control: max-age``
    of its response bounded to ``[min_lifespan, max_lifespan]`` (or
    ``cache_lifespan`` without that header), and fetched again when it is
    older. An unknown ``kid`` triggers one re-fetch, at most once per
    ``refetch_interval`` seconds: a rotated key is found within that
    interval, and junk ``kid`` values cannot make the service hammer the
    issuer. When a fetch fails the last set is kept (and retried at most
    once per ``refetch_interval``).

    Args:
        url (str | Sequence[str]): the JWK Set URL (``.../.well-known/jwks.json``),
            or the URLs of several backend replicas, tried in turn from the
            one that answered last (:class:`JSONResource`).
        cache_lifespan (float): seconds to keep a set whose response has no
            ``max-age`` (default 300).
        min_lifespan, max_lifespan (float): bounds on any lifetime, seconds
            (default 60 and 3600).
        refetch_interval (float): minimum seconds between two fetches caused
            by unknown ``kid`` values or failures (default 5).
        http_timeout (float): connect and read timeout of each fetch,
            seconds (default 2).
        algorithms (Iterable[str]): algorithms accepted.
        session (requests.Session | None): HTTP session to use (tests).
        clock (Callable[[], float]): monotonic seconds (tests).
    """

    def __init__(self, url: str | Sequence[str], *, cache_lifespan: float = 300.0, min_lifespan: float = 60.0,
                 max_lifespan: float = 3600.0, refetch_interval: float = 5.0, http_timeout: float = 2.0,
                 algorithms: Iterable[str] = ("ES256", "RS256"), session: requests.Session | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if not url_list(url or ""):
            raise ValueError("JWKSClient needs the JWK Set URL")
        self.resource = JSONResource(url, http_timeout, session)
        self.cache_lifespan = float(cache_lifespan)
        self.min_lifespan = float(min_lifespan)
        self.max_lifespan = float(max_lifespan)
        self.refetch_interval = float(refetch_interval)
        self.algorithms = tuple(algorithms)
        self._generation = 0
        self.fetch_count = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, VerificationKey] | None = None
        self._fingerprint: frozenset | None = None
        self._expires_at = 0.0
        self._last_attempt: float | None = None

    @property
    def generation(self) -> int:
        """A counter that changes when the key material does.

        Reading it first brings a set past its lifetime up to date (the rules
        of :meth:`get_jwk_set`: one fetch, and a failed one keeps the last
        set), so that caches keyed by it (the verifier's verdicts, the
        header checks) drop the tokens of a key withdrawn from the JWK Set
        once the set's lifetime is over, however often those tokens are
        seen. Costs one clock read while the set is fresh. Before any set was
        fetched it fetches nothing (the key lookup that follows does, and
        answers 503 if it cannot).
        """
        if self._keys is not None and self._clock() >= self._expires_at:
            self.get_jwk_set()  # keeps the stale set when the fetch fails
        return self._generation

    def fetch_data(self) -> tuple[dict, str | None]:
        """GET the JWK Set.

        Returns:
            (jwks, cache_control): the parsed JSON and the ``Cache-Control`` header.

        Raises:
            requests.RequestException, ValueError: the fetch or the JSON failed.
        """
        data, headers = self.resource.get()
        return data, headers.get("Cache-Control")

    @property
    def url(self) -> str:
        """The JWK Set URL (with several: the one that answered last)."""
        return self.resource.url

    def _refresh_locked(self) -> bool:
        now = self._clock()
        self._last_attempt = now
        self.fetch_count += 1
        try:
            data, cache_control = self.fetch_data()
            keys = keys_from_jwks(data, self.algorithms)
        except (requests.RequestException, ValueError, RecursionError) as exc:
            log.warning("JWK Set fetch from %s failed: %s", " or ".join(self.resource.urls), type(exc).__name__)
            return False
        fingerprint = frozenset((k.kid, k.algorithm, repr(k.key.public_numbers())) for k in keys.values())
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self._generation += 1
        self._keys = keys
        self._expires_at = now + cache_lifetime(cache_control, self.cache_lifespan, self.min_lifespan,
                                                self.max_lifespan)
        return True

    def _may_refetch(self) -> bool:
        return self._last_attempt is None or self._clock() - self._last_attempt >= self.refetch_interval

    def get_jwk_set(self, refresh: bool = False) -> dict[str, VerificationKey]:
        """Return the cached keys, fetching them when absent, stale or asked to.

        Args:
            refresh: fetch now (still rate limited by ``refetch_interval``).

        Returns:
            dict[str, VerificationKey]: by ``kid``.

        Raises:
            VerifierUnavailable: no JWK Set could ever be fetched.
        """
        keys = self._keys
        if keys is not None and not refresh and self._clock() < self._expires_at:
            return keys
        with self._lock:
            if self._keys is None or refresh or self._clock() >= self._expires_at:
                if self._keys is None or self._may_refetch():
                    if not self._refresh_locked() and self._keys is not None:
                        # Keep the stale set; try again after refetch_interval.
                        self._expires_at = self._clock() + self.refetch_interval
            if self._keys is None:
                raise VerifierUnavailable("The signing keys could not be fetched; retry shortly.")
            return self._keys

    def get_key(self, kid: str) -> VerificationKey | None:
        """Return the key named ``kid``, re-fetching once (rate limited) when unknown.

        Raises:
            VerifierUnavailable: no JWK Set could ever be fetched.
        """
        key = self.get_jwk_set().get(kid)
        if key is None and self._may_refetch():
            key = self.get_jwk_set(refresh=True).get(kid)
        return key

    def get_signing_key_from_jwt(self, token: str) -> VerificationKey | None:
        """Return the key named by ``token``'s ``kid`` header (PyJWKClient's API).

        Raises:
            InvalidToken: the header is malformed or has no string ``kid``.
            VerifierUnavailable: no JWK Set could ever be fetched.
        """
        from .verify import unverified_header, InvalidToken

        kid = unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("The access token header has no key id.")
        return self.get_key(kid)

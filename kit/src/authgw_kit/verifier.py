"""The token verifier: keys + checks + cache + revocation, framework-free."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

from cachetools import TLRUCache

from .errors import InvalidToken, MissingToken
from .keys import JWKSClient, KeySource
from .revocations import RevocationList
from .settings import url_list
from .token import VerifiedToken
from .verify import LEEWAY_SECONDS, MAX_TOKEN_BYTES, decode_access_token

#: The longest a verified token stays cached, seconds (also bounded by its ``exp``).
CACHE_MAX_AGE = 300.0


class TokenVerifier:
    """Verify bearer tokens: strict checks, a bounded cache, and revocation.

    Give the keys as ``jwks_url`` or ``keys``, and revocations as
    ``revocations_url`` or ``revocations``.

    Args:
        issuer (str): required ``iss``.
        audience (str): required ``aud`` (equal, or in an array).
        jwks_url (str | Sequence[str] | None): JWK Set URL, read by a
            :class:`JWKSClient`; several (backend replicas, separated by
            commas or white space, or a sequence) are tried in turn.
        keys (KeySource | None): a key source instead (``StaticKeys``...).
        revocations_url (str | Sequence[str] | None): the backend's
            revocation feed URL, or those of several replicas, likewise.
        revocations (RevocationList | None): a revocation list instead.
        algorithms (Iterable[str]): algorithms accepted (default ``("ES256",)``).
        leeway (float): clock skew on ``exp``/``nbf``/``iat``, seconds (default 30).
        trust_window (float): seconds the last revocation list is trusted
            when the feed fails (default 60); then 503.
        poll_interval (float): seconds between feed polls (default 1).
        http_timeout (float): timeout of each HTTP fetch, seconds (default 2).
        cache_size (int): verified tokens kept in memory (default 4096;
            0 disables the cache).
        clock (Callable[[], float]): Unix time in seconds (tests move it).

    Raises:
        ValueError: a required argument is missing or contradictory.
    """

    def __init__(self, *, issuer: str, audience: str, jwks_url: str | Sequence[str] | None = None,
                 keys: KeySource | None = None, revocations_url: str | Sequence[str] | None = None,
                 revocations: RevocationList | None = None, algorithms: Iterable[str] = ("ES256",),
                 leeway: float = LEEWAY_SECONDS, trust_window: float = 60.0, poll_interval: float = 1.0,
                 http_timeout: float = 2.0, cache_size: int = 4096, clock: Callable[[], float] = time.time):
        problems = []
        if not issuer:
            problems.append("issuer is required")
        if not audience:
            problems.append("audience is required")
        if (jwks_url is None) == (keys is None):
            problems.append("give exactly one of jwks_url= or keys=")
        if (revocations_url is None) == (revocations is None):
            problems.append("give exactly one of revocations_url= or revocations=")
        if problems:
            raise ValueError("TokenVerifier: " + "; ".join(problems))
        self.issuer = issuer
        self.audience = audience
        self.leeway = float(leeway)
        self.keys: KeySource = keys or JWKSClient(jwks_url, http_timeout=http_timeout,  # type: ignore[arg-type]
                                                  algorithms=algorithms)
        self.revocations = revocations or RevocationList(revocations_url, poll_interval=poll_interval,
                                                         trust_window=trust_window, http_timeout=http_timeout)
        self._clock = clock
        self._cache: TLRUCache | None = None
        if cache_size > 0:
            self._cache = TLRUCache(maxsize=cache_size, ttu=self._entry_expiry, timer=clock)
        self._lock = threading.Lock()

    @staticmethod
    def _entry_expiry(_key: bytes, value: tuple[VerifiedToken, int], now: float) -> float:
        # Never past exp: after it the token is checked again (and the
        # leeway decides), and never past CACHE_MAX_AGE.
        return min(value[0].expires_at, now + CACHE_MAX_AGE)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "TokenVerifier":
        """Build a verifier from ``AUTHGW_*`` environment variables.

        Reads ``AUTHGW_ISSUER``, ``AUTHGW_AUDIENCE`` (default ``api``),
        ``AUTHGW_JWKS_URL``, ``AUTHGW_REVOCATIONS_URL`` (all required but
        the audience; each one URL, or the URLs of several backend replicas
        separated by commas or white space), ``AUTHGW_TRUST_WINDOW``
        (seconds, default 60),
        ``AUTHGW_ALGORITHMS`` (comma-separated, default ``ES256``).

        Args:
            environ: the environment (default ``os.environ``).
            overrides: keyword arguments passed on to the constructor.

        Raises:
            ValueError: every missing or malformed variable, listed at once.
        """
        env = os.environ if environ is None else environ
        problems = []
        values: dict[str, Any] = {}
        for name, arg, alternative in (("AUTHGW_ISSUER", "issuer", "issuer"),
                                       ("AUTHGW_JWKS_URL", "jwks_url", "keys"),
                                       ("AUTHGW_REVOCATIONS_URL", "revocations_url", "revocations")):
            if arg in overrides or alternative in overrides:
                continue
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required")
            elif arg != "issuer":
                urls = url_list(value)
                if not urls or not all(u.startswith(("http://", "https://")) for u in urls):
                    problems.append(f"{name} must be an http(s) URL, or several separated by commas")
                value = urls
            values[arg] = value
        values["audience"] = env.get("AUTHGW_AUDIENCE", "api").strip() or "api"
        try:
            values["trust_window"] = float(env.get("AUTHGW_TRUST_WINDOW", "60"))
            if values["trust_window"] <= 0:
                raise ValueError
        except ValueError:
            problems.append("AUTHGW_TRUST_WINDOW must be a positive number of seconds")
        algorithms = tuple(a.strip() for a in env.get("AUTHGW_ALGORITHMS", "ES256").split(",") if a.strip())
        if not algorithms or not set(algorithms) <= {"ES256", "RS256"}:
            problems.append("AUTHGW_ALGORITHMS must list ES256 and/or RS256")
        values["algorithms"] = algorithms
        if problems:
            raise ValueError("authgw_kit configuration: " + "; ".join(problems))
        values.update(overrides)
        return cls(**values)

    def decode(self, token: str) -> VerifiedToken:
        """Verify signature and claims only: no cache, no revocation.

        Raises:
            InvalidToken, ExpiredToken, VerifierUnavailable: see :meth:`verify`.
        """
        return VerifiedToken(decode_access_token(token, self.keys, issuer=self.issuer, audience=self.audience,
                                                 leeway=self.leeway, now=self._clock()))

    def verify(self, token: str) -> VerifiedToken:
        """Verify a bearer token and check it against the revocation feed.

        A token verified before is answered from the cache (keyed by its
        SHA-256, bounded in size, never past the token's ``exp``); the
        revocation rules are applied on every call, cached or not.

        Args:
            token: the compact JWS (without ``Bearer``).

        Returns:
            VerifiedToken: the claims.

        Raises:
            InvalidToken: malformed, forged, for someone else, revoked
                (``ExpiredToken`` when past ``exp``).
            VerifierUnavailable: no JWK Set yet, or the revocation list is
                older than the trust window (503, ``Retry-After``).
        """
        cache = self._cache
        if cache is None:
            verified = self.decode(token)
        else:
            if type(token) is not str or len(token) > MAX_TOKEN_BYTES or not token.isascii():
                return self.decode(token)  # refused before hashing anything large or unencodable
            digest = hashlib.sha256(token.encode()).digest()
            generation = self.keys.generation
            with self._lock:
                entry = cache.get(digest)
            if entry is not None and entry[1] == generation:
                verified = entry[0]
            else:
                verified = self.decode(token)
                with self._lock:
                    cache[digest] = (verified, self.keys.generation)
        self.revocations.check(verified.claims)
        return verified

    def verify_authorization_header(self, value: str | None) -> VerifiedToken:
        """Parse ``Authorization: Bearer <token>`` (RFC 6750 §2.1) and verify it.

        The scheme is case-insensitive. Only this header carries a token:
        query and form parameters are never read (RFC 6750 §2.3 is not
        supported on purpose).

        Args:
            value: the header value, or None when absent.

        Returns:
            VerifiedToken: the claims.

        Raises:
            MissingToken: no header, or another scheme (``Basic``...).
            InvalidToken: ``Bearer`` without exactly one token, or a bad token.
            VerifierUnavailable: see :meth:`verify`.
        """
        if not value:
            raise MissingToken()
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise MissingToken()
        token = rest.strip()
        if not token or " " in token:
            raise InvalidToken("The Authorization header must be: Bearer <token>.")
        return self.verify(token)

    def close(self) -> None:
        """Stop the revocation poller (optional: it is a daemon thread)."""
        self.revocations.close()


__all__ = ["TokenVerifier", "CACHE_MAX_AGE"]

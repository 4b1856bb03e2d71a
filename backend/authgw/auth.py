"""The request check: one function verifies the bearer token of a request.

``verify_token_in_request`` is the only place a request's token is read;
``require_auth`` and ``require_permission`` are thin shells over it. The
backend checks every protected route itself (defence in depth), even
though the gateway checked first: ``X-Auth-*`` headers are never trusted
here.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from functools import wraps
from typing import Callable, Iterable

from flask import current_app, g, request

from .exceptions import AuthenticationRequired, InsufficientScope, TokenInvalid
from .extensions import db
from .tokens import MAX_TOKEN_BYTES, decode_access_token


class VerifiedTokenCache:
    """Bounded LRU of tokens already verified by this process.

    Verifying an ES256 signature costs about 80 µs; a dictionary lookup
    costs well under 1 µs. Entries are keyed on the SHA-256 of the token and
    live until the token's ``exp`` at most, so a cached token is never
    accepted after it expires; revocation is checked on every request
    regardless (``RevocationFeed``).

    Args:
        max_entries: tokens remembered per process. An entry costs about
            2 KB, so the default bounds the cache to about 8 MB per worker
            (docs/performance.md: a worker stays under 120 MB RSS); a token
            evicted early only costs one more signature check.
    """

    def __init__(self, max_entries: int = 4096):
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, dict] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> dict | None:
        claims = self._entries.get(key)
        if claims is None:
            return None
        if claims["exp"] <= time.time():
            with self._lock:
                self._entries.pop(key, None)
            return None
        return claims

    def put(self, key: bytes, claims: dict) -> None:
        with self._lock:
            self._entries[key] = claims
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def bearer_token_from_request() -> str | None:
    """Return the bearer token of the ``Authorization`` header, or None.

    Only the header carries a token (RFC 6750 §2.1); an ``access_token``
    query or form parameter is ignored. The scheme is case-insensitive.

    Raises:
        TokenInvalid: the header uses the Bearer scheme but holds no token
            or an oversized one.
    """
    return parse_bearer(request.headers.get("Authorization"))


def parse_bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header value, or None (see
    ``bearer_token_from_request``)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not token or " " in token:
        raise TokenInvalid("The Authorization header must be 'Bearer <token>'.")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenInvalid("The access token is too large.")
    return token


def verify_token_in_request() -> dict:
    """Verify the request's access token and its session; return the claims.

    The claims are also stored as ``g.token_claims``.

    Returns:
        dict: verified claims (CONTRACT.md "Access token").

    Raises:
        AuthenticationRequired: no bearer token was sent (401, RFC 6750 §3).
        TokenInvalid / TokenExpired: the token is bad, expired, or its
            session was revoked (401 ``invalid_token``).
        ServiceUnavailable: revocation cannot be checked (database down).
    """
    if "token_claims" in g:
        return g.token_claims
    token = bearer_token_from_request()
    if token is None:
        raise AuthenticationRequired()
    claims = check_token(token, current_app.extensions["authgw"], db.engine)
    g.token_claims = claims
    return claims


def check_token(token: str, state: dict, engine) -> dict:
    """Verify ``token`` (signature once per process, then the cache) and its
    session (revocation feed); return the claims. Raises like
    ``verify_token_in_request``."""
    cache: VerifiedTokenCache = state["token_cache"]
    cache_key = hashlib.sha256(token.encode("ascii", "replace")).digest()
    claims = cache.get(cache_key)
    if claims is None:
        settings = state["settings"]
        claims = decode_access_token(token, state["key_set"], issuer=settings.jwt_issuer,
                                     audience=settings.jwt_audience)
        cache.put(cache_key, claims)
    if state["revocation_feed"].is_revoked(claims["sid"], engine):
        raise TokenInvalid("The session of this access token has been revoked.")
    return claims


def identity_headers(claims: dict) -> list[tuple[str, str]]:
    """Return the ``X-Auth-*`` headers the gateway passes upstream for verified
    ``claims`` (CONTRACT.md "Protected API"); lists are comma-separated."""
    return [
        ("X-Auth-User-Id", claims["sub"]),
        ("X-Auth-Email", claims["email"]),
        ("X-Auth-Roles", ",".join(claims["roles"])),
        ("X-Auth-Permissions", ",".join(claims["permissions"])),
        ("X-Auth-Session-Id", claims["sid"]),
    ]


class VerifyFastPath:
    """WSGI middleware: the gateway's check (``GET /api/auth/verify``) answered
    without Flask's request machinery.

    nginx asks this for every protected request its cache cannot answer, so
    its cost is the cost of the check. The answers are exactly the view's
    (``views/auth.py: verify``): the same ``check_token``, 204 with the
    ``X-Auth-*`` headers, or the same JSON error; anything unexpected falls
    back to the Flask app, which answers it with its own error handlers.
    """

    PATH = "/api/auth/verify"

    def __init__(self, wsgi_app, flask_app):
        self.wsgi_app = wsgi_app
        self.state = flask_app.extensions["authgw"]
        with flask_app.app_context():
            self.engine = db.engine

    def __call__(self, wsgi_env, start_response):
        if wsgi_env.get("PATH_INFO") != self.PATH or wsgi_env.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(wsgi_env, start_response)
        from .exceptions import APIError

        try:
            token = parse_bearer(wsgi_env.get("HTTP_AUTHORIZATION"))
            if token is None:
                raise AuthenticationRequired()
            claims = check_token(token, self.state, self.engine)
        except APIError as exc:
            return exc(wsgi_env, start_response)
        except Exception:  # noqa: BLE001 - Flask's handlers decide (database errors: 503)
            return self.wsgi_app(wsgi_env, start_response)
        start_response("204 NO CONTENT", identity_headers(claims) + [("Cache-Control", "no-store")])
        return []


def public(view: Callable) -> Callable:
    """Mark a view as reachable without a token.

    Every other view needs a valid access token: ``create_app`` installs a
    default-deny check, so forgetting a decorator can only make a route
    stricter, never open it.
    """
    view.public = True
    return view


def require_auth(view: Callable) -> Callable:
    """Decorate a view so it runs only with a valid access token."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        verify_token_in_request()
        return view(*args, **kwargs)

    wrapper.requires_auth = True
    return wrapper


def require_permission(*permissions: str, any_of: Iterable[str] = ()) -> Callable:
    """Decorate a view to need every permission in ``permissions`` (all-of)
    and, if ``any_of`` is given, at least one of those.

    Raises (from the wrapped view):
        AuthenticationRequired / TokenInvalid: as ``verify_token_in_request``.
        InsufficientScope: the token lacks a needed permission
            (403, RFC 6750 §3.1).
    """
    all_needed = frozenset(permissions)
    any_needed = frozenset(any_of)
    if not all_needed and not any_needed:
        raise ValueError("require_permission needs at least one permission")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            granted = set(verify_token_in_request()["permissions"])
            # Name what is missing, not what the token already grants.
            missing = sorted(all_needed - granted)
            if missing:
                raise InsufficientScope(f"This request needs the permission {' and '.join(missing)}.")
            if any_needed and not any_needed & granted:
                raise InsufficientScope(f"This request needs the permission {' or '.join(sorted(any_needed))}.")
            return view(*args, **kwargs)

        wrapper.requires_auth = True
        return wrapper

    return decorator


def require_any_permission(*permissions: str) -> Callable:
    """Decorate a view to need at least one of ``permissions``."""
    return require_permission(any_of=permissions)

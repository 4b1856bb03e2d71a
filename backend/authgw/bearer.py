"""Bearer tokens in requests (RFC 6750) and the route guards built on them.

``verify_token_in_request`` is the request check of every Flask view:
``require_auth`` and ``require_permission`` are thin shells over it, and
``create_app`` runs it before every view not marked ``@public``. The gateway
checks tokens itself, in nginx (docs/gateway-lua.md); the backend checks every
protected route itself (defence in depth), even though the gateway checked
first: ``X-Auth-*`` headers are never trusted here.
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Callable, Iterable

import authgw_kit as kit
from flask import g, request

from .exceptions import (AuthenticationRequired, InsufficientScope, ServiceUnavailable, TokenExpired,
                         TokenInvalid)
from .extension import current_authgw
from .tokens import MAX_TOKEN_BYTES

if TYPE_CHECKING:  # pragma: no cover
    from .extension import AuthGW


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
        dict: verified claims (docs/interface.md "Access token").

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
    claims = check_token(token, current_authgw())
    g.token_claims = claims
    return claims


def check_token(token: str, state: "AuthGW") -> dict:
    """Verify ``token`` and its revocation status with the kit's verifier
    (one Python implementation for the backend and every service, docs/kit.md);
    return the claims.

    The signature is checked once per process (the kit's cache, keyed by the
    token's SHA-256, never past ``exp``); the revocation rules on every call,
    against the feed this process polls in the background, so no request
    waits on the database for them.

    Raises:
        TokenInvalid / TokenExpired: bad, expired or revoked token (401).
        ServiceUnavailable: the revocation feed is older than its trust
            window (503 with ``Retry-After``).
    """
    try:
        return dict(state.verifier.verify(token))
    except kit.ExpiredToken as exc:
        raise TokenExpired(exc.description) from None
    except kit.InvalidToken as exc:
        raise TokenInvalid(exc.description) from None
    except kit.VerifierUnavailable as exc:
        raise ServiceUnavailable(exc.description, headers={"Retry-After": str(exc.retry_after)}) from None


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

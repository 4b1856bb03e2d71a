"""Access tokens: issue and verify JWTs (RFC 7519, RFC 9068 profile).

Pure functions: no request, no database. Verification is the kit's
(``authgw_kit.decode_access_token``, docs/kit.md "What is checked"): one
Python implementation for the backend and every service, run against the
shared corpus in tests/corpus. It is strict on purpose: the algorithm is
pinned by the key, the header must say ``typ: at+jwt``, key location
headers (``jku``, ``jwk``, ``x5u``, ``x5c``) and ``crit`` are refused, and
every claim of docs/interface.md must be present with its type.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Iterable

import authgw_kit
import jwt
from authgw_kit.verify import ACCESS_TOKEN_TYPES, FORBIDDEN_HEADERS, LEEWAY_SECONDS, MAX_TOKEN_BYTES, REQUIRED_CLAIMS

from .exceptions import TokenExpired, TokenInvalid
from .keys import KeySet

__all__ = ["ACCESS_TOKEN_TYPES", "FORBIDDEN_HEADERS", "LEEWAY_SECONDS", "MAX_TOKEN_BYTES", "REQUIRED_CLAIMS",
           "issue_access_token", "decode_access_token", "mint_access_token", "kit_keys"]


def issue_access_token(
    key_set: KeySet,
    *,
    issuer: str,
    audience: str,
    ttl: int,
    subject: str,
    session_id: str,
    email: str,
    name: str,
    roles: Iterable[str],
    permissions: Iterable[str],
    now: float | None = None,
    client_id: str | None = None,
) -> tuple[str, dict]:
    """Sign a new access token with the current key.

    Args:
        key_set: keys loaded at startup; ``key_set.signing_key`` signs.
        issuer, audience: ``iss`` and ``aud``.
        ttl: lifetime in seconds.
        subject: ``sub``, the user's id in this service (a string).
        session_id: ``sid``, the session the token belongs to.
        email, name: the user's profile.
        roles, permissions: strings, copied into arrays.
        now: Unix time in seconds (default: the current time).
        client_id: for a machine client's token, its ``client_id`` claim
            (RFC 9068 §2.2; ``subject`` is the same id).

    Returns:
        (token, claims): the compact JWS and the claims it carries.
    """
    issued_at = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued_at,
        "exp": issued_at + int(ttl),
        "jti": secrets.token_urlsafe(16),
        "sid": session_id,
        "email": email,
        "name": name,
        "roles": sorted(roles),
        "permissions": sorted(permissions),
    }
    if client_id is not None:
        claims["client_id"] = client_id
    key = key_set.signing_key
    token = jwt.encode(claims, key.private_key, algorithm=key.algorithm,
                       headers={"kid": key.kid, "typ": "at+jwt"})
    return token, claims


def decode_access_token(token: str, key_set: KeySet, *, issuer: str, audience: str,
                        leeway: int = LEEWAY_SECONDS, now: float | None = None) -> dict:
    """Verify an access token and return its claims (the kit's checks).

    Args:
        token: compact JWS as sent after ``Bearer``.
        key_set: the published keys; the ``kid`` header picks one and that
            key's algorithm is the only one accepted.
        issuer: required ``iss`` (exact match).
        audience: required ``aud``: equal, or an element of an array.
        leeway: clock skew allowed on ``exp``/``nbf``/``iat``, seconds.
        now: Unix time in seconds (default: the current time).

    Returns:
        dict: the verified claims (all of ``REQUIRED_CLAIMS``, typed).

    Raises:
        TokenExpired: ``exp`` is past (beyond ``leeway``).
        TokenInvalid: anything else: oversized, malformed, unknown ``kid``,
            wrong ``alg`` or ``typ``, forbidden header, bad signature, wrong
            ``iss``/``aud``, future ``iat``/``nbf``, missing or mistyped claim.
    """
    try:
        return authgw_kit.decode_access_token(token, kit_keys(key_set), issuer=issuer, audience=audience,
                                              leeway=leeway, now=now)
    except authgw_kit.ExpiredToken as exc:
        raise TokenExpired(exc.description) from None
    except authgw_kit.InvalidToken as exc:
        raise TokenInvalid(exc.description) from None


_kit_keys_lock = threading.Lock()
_kit_keys_for: tuple[KeySet, authgw_kit.StaticKeys] | None = None


def kit_keys(key_set: KeySet) -> authgw_kit.StaticKeys:
    """Return the kit's key source for ``key_set`` (built once per key set).

    The backend's own key objects are handed over as they are (no JWK
    round trip, nothing parsed per request); each key verifies only its
    own algorithm.
    """
    global _kit_keys_for
    cached = _kit_keys_for
    if cached is not None and cached[0] is key_set:
        return cached[1]
    with _kit_keys_lock:
        keys = authgw_kit.StaticKeys(keys=[authgw_kit.VerificationKey(kid=key.kid, algorithm=key.algorithm,
                                                                      key=key.public_key)
                                           for key in key_set.keys.values()])
        _kit_keys_for = (key_set, keys)
    return keys


def mint_access_token(grant, key_set: KeySet, settings, *, now: float | None = None) -> tuple[str, int]:
    """Issue the access token of a grant (a session or a machine client).

    Args:
        grant (sessions.Grant): who the token is for: ``session_id``,
            ``user_id``, ``email``, ``name``, ``roles``, ``permissions``.
        key_set: signing keys (``key_set.signing_key`` signs).
        settings (config.Settings): ``jwt_issuer``, ``jwt_audience`` and
            ``access_token_ttl`` (seconds).
        now: Unix time in seconds (default: ``grant.read_at``, the time
            the grant was read under its locks, else the current time). The
            token's ``iat`` is at least ``grant.not_before``, so a token
            minted after a privilege removal is never refused by it, and no
            later than ``read_at``, so a token minted from grants read before
            a removal is (docs/authorization.md "Removing a privilege").

    Returns:
        (token, expires_in): the compact JWS and its lifetime in seconds.
    """
    if now is None:
        now = getattr(grant, "read_at", None) or time.time()
    now = max(now, getattr(grant, "not_before", 0))
    token, _claims = issue_access_token(
        key_set, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl=settings.access_token_ttl,
        subject=str(grant.user_id), session_id=grant.session_id, email=grant.email or "", name=grant.name or "",
        roles=grant.roles, permissions=grant.permissions, now=now,
    )
    return token, settings.access_token_ttl

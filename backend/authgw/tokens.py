"""Access tokens: issue and verify JWTs (RFC 7519, RFC 9068 profile).

Pure functions: no request, no database. ``decode_access_token`` is the
only way the service reads a token, and it is strict on purpose: the
algorithm is pinned by the key, the header must say ``typ: at+jwt``, key
location headers (``jku``, ``jwk``, ``x5u``, ``x5c``) and ``crit`` are
refused, and every claim of docs/interface.md must be present with its type.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Iterable

import jwt

from .exceptions import TokenExpired, TokenInvalid
from .keys import KeySet

#: RFC 9068 §2.1 media type of access tokens (``application/`` may be omitted).
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "exp", "jti", "sid", "email", "name", "roles", "permissions")
_STRING_CLAIMS = ("sub", "jti", "sid", "email", "name")
_LIST_CLAIMS = ("roles", "permissions")
#: Headers that would let a token choose its own verification key.
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})
#: Longest token accepted, in bytes; anything larger is refused unparsed.
MAX_TOKEN_BYTES = 8192
#: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``, in seconds (docs/interface.md).
LEEWAY_SECONDS = 30


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
    key = key_set.signing_key
    token = jwt.encode(claims, key.private_key, algorithm=key.algorithm,
                       headers={"kid": key.kid, "typ": "at+jwt"})
    return token, claims


def decode_access_token(token: str, key_set: KeySet, *, issuer: str, audience: str,
                        leeway: int = LEEWAY_SECONDS) -> dict:
    """Verify an access token and return its claims.

    Args:
        token: compact JWS as sent after ``Bearer``.
        key_set: the published keys; the ``kid`` header picks one and that
            key's algorithm is the only one accepted.
        issuer, audience: required ``iss`` and ``aud`` (exact match).
        leeway: clock skew allowed, seconds.

    Returns:
        dict: the verified claims (all of ``REQUIRED_CLAIMS``, typed).

    Raises:
        TokenExpired: ``exp`` is past (beyond ``leeway``).
        TokenInvalid: anything else: oversized, malformed, unknown ``kid``,
            wrong ``alg`` or ``typ``, forbidden header, bad signature, wrong
            ``iss``/``aud``, future ``iat``/``nbf``, missing or mistyped claim.
    """
    if not isinstance(token, str) or not token:
        raise TokenInvalid("The access token is empty.")
    if len(token) > MAX_TOKEN_BYTES or not token.isascii():
        raise TokenInvalid("The access token is too large or not ASCII.")
    if token.count(".") != 2:
        raise TokenInvalid("The access token is not a compact JWS.")
    header = _unverified_header(token)
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise TokenInvalid('The token is not an access token (typ must be "at+jwt").')
    if FORBIDDEN_HEADERS.intersection(header):
        raise TokenInvalid("The access token header names its own key; refused.")
    kid = header.get("kid")
    key = key_set.keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenInvalid("The access token was signed with an unknown key.")
    if header.get("alg") != key.algorithm:
        raise TokenInvalid("The access token uses an algorithm not allowed for its key.")
    try:
        claims = jwt.decode(
            token,
            key=key.public_key,
            algorithms=[key.algorithm],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": True, "verify_signature": True},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except jwt.InvalidAudienceError:
        raise TokenInvalid("The access token is for another audience.") from None
    except jwt.InvalidIssuerError:
        raise TokenInvalid("The access token comes from another issuer.") from None
    except jwt.InvalidSignatureError:
        raise TokenInvalid("The access token signature is invalid.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenInvalid(f"The access token lacks the {exc.claim!r} claim.") from None
    except jwt.ImmatureSignatureError:
        raise TokenInvalid("The access token is not valid yet.") from None
    except jwt.PyJWTError:
        raise TokenInvalid("The access token is malformed.") from None
    _check_claim_types(claims)
    return claims


def _unverified_header(token: str) -> dict:
    """Decode only the JOSE header, to pick the key (RFC 7515 §5.2 step 2-3).

    ``jwt.get_unverified_header`` decodes the whole token (about 19 µs); the
    header alone costs about 3. Nothing here is trusted: ``jwt.decode`` then
    verifies the complete token with the key this header names.
    """
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        raise TokenInvalid("The access token header is malformed.") from None
    if not isinstance(header, dict):
        raise TokenInvalid("The access token header is malformed.")
    return header


def _check_claim_types(claims: dict) -> None:
    for name in _STRING_CLAIMS:
        if not isinstance(claims[name], str) or (name in ("sub", "sid", "jti") and not claims[name]):
            raise TokenInvalid(f"The access token claim {name!r} must be a non-empty string.")
    for name in _LIST_CLAIMS:
        value = claims[name]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TokenInvalid(f"The access token claim {name!r} must be an array of strings.")
    for name in ("iat", "exp"):
        if isinstance(claims[name], bool) or not isinstance(claims[name], (int, float)):
            raise TokenInvalid(f"The access token claim {name!r} must be a number.")


def mint_access_token(grant, key_set: KeySet, settings, *, now: float | None = None) -> tuple[str, int]:
    """Issue the access token of a grant (a session or a machine client).

    Args:
        grant (sessions.Grant): who the token is for: ``session_id``,
            ``user_id``, ``email``, ``name``, ``roles``, ``permissions``.
        key_set: signing keys (``key_set.signing_key`` signs).
        settings (config.Settings): ``jwt_issuer``, ``jwt_audience`` and
            ``access_token_ttl`` (seconds).
        now: Unix time in seconds (default: the current time).

    Returns:
        (token, expires_in): the compact JWS and its lifetime in seconds.
    """
    token, _claims = issue_access_token(
        key_set, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl=settings.access_token_ttl,
        subject=str(grant.user_id), session_id=grant.session_id, email=grant.email or "", name=grant.name or "",
        roles=grant.roles, permissions=grant.permissions, now=now,
    )
    return token, settings.access_token_ttl

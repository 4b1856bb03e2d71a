"""The access-token checks, as one pure function (RFC 9068, RFC 8725).

:func:`decode_access_token` has no I/O beyond asking its key source for a
key, no cache and no revocation: the backend calls it directly, and
:class:`authgw_kit.TokenVerifier` wraps it with a cache and the revocation
feed. The rules, identical in the gateway's Lua check (docs/kit.md,
"What is checked"):

- the token is at most 8192 bytes, ASCII, three non-empty base64url
  segments (RFC 7515 §7.1, no padding);
- header: a JSON object; ``typ`` is ``at+jwt`` or ``application/at+jwt``
  (case-insensitive, RFC 9068 §2.1); none of ``jku``, ``jwk``, ``x5u``,
  ``x5c``, ``crit``; ``kid`` a string naming a known key; ``alg`` equal to
  that key's algorithm (RFC 8725 §3.1);
- the signature verifies (PyJWT, with only that algorithm allowed);
- claims: ``iss`` equal to ours; ``aud`` ours or an array containing it;
  ``sub``, ``jti``, ``sid`` non-empty strings; ``email``, ``name``
  strings; ``roles``, ``permissions`` arrays of strings; ``iat``, ``exp``
  finite numbers (not booleans), ``nbf`` too when present; ``exp`` not
  past, ``nbf`` and ``iat`` not future, each with ``leeway`` seconds;
  ``client_id`` optional, a string equal to ``sub`` (RFC 9068 §2.2).

Hostile input (deeply nested JSON, bad base64, wrong types) is refused as
:class:`InvalidToken`, never an unhandled exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from typing import Any

import jwt

from .errors import ExpiredToken, InvalidToken
from .keys import KeySource

#: RFC 9068 §2.1 media type of access tokens (``application/`` may be omitted).
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "exp", "jti", "sid", "email", "name", "roles", "permissions")
#: Headers that would let a token choose its own key, or demand extensions.
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})
#: Longest token accepted, in bytes; anything larger is refused unparsed.
MAX_TOKEN_BYTES = 8192
#: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``, in seconds.
LEEWAY_SECONDS = 30
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_NON_EMPTY_STRINGS = ("sub", "jti", "sid")
_STRINGS = ("email", "name")
_STRING_ARRAYS = ("roles", "permissions")
#: A backslash escape of a UTF-16 surrogate: only then can a decoded string
#: hold a lone one, so only then are the strings walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) in a decoded JSON value holds a
    lone UTF-16 surrogate, which no UTF-8 text can."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def strict_json(data: bytes | str, **kwargs: Any) -> Any:
    """Decode a JOSE header or JWT payload as the gateway's Lua check does
    (the backend decodes its request bodies with it too).

    RFC 8259 §8.1: JSON text exchanged between systems is UTF-8, without a
    byte order mark; ``json.loads`` on bytes would also take UTF-16, UTF-32
    and a BOM, and CESU-8 bytes (``ED A0 80``) would decode to a surrogate.
    A string holding a lone UTF-16 surrogate (``"\\ud800"``) is not Unicode
    text either.

    Args:
        data: the JSON text, as bytes (decoded as strict UTF-8) or str.
        **kwargs: passed to ``json.loads``.

    Raises:
        ValueError: not UTF-8, a BOM, malformed JSON, a lone surrogate.
        RecursionError: nested beyond the interpreter's limit.
    """
    # Strict; a BOM stays U+FEFF, which json.loads refuses.
    text = bytes(data).decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    value = json.loads(text, **kwargs)
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise ValueError("a lone UTF-16 surrogate")
    return value


class _StrictPayloadJWT(jwt.PyJWT):
    """PyJWT, with the payload decoded by :func:`strict_json`."""

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        try:
            payload = strict_json(decoded["payload"])
        except (ValueError, RecursionError) as exc:
            raise jwt.DecodeError(f"Invalid payload string: {exc}") from exc
        if not isinstance(payload, dict):
            raise jwt.DecodeError("Invalid payload string: must be a json object")
        return payload


_JWT = _StrictPayloadJWT()
_DECODE_OPTIONS = {"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_nbf": False,
                   "verify_iat": False, "strict_aud": False}


def unverified_header(token: str) -> dict[str, Any]:
    """Decode only the JOSE header, to pick the key (RFC 7515 §5.2 steps 2-3).

    Nothing in it is trusted: the whole token is verified afterwards with
    the key it names, and only if that key's algorithm is the one it says.

    Args:
        token: compact JWS, already checked for its shape.

    Returns:
        dict: the header object.

    Raises:
        InvalidToken: not base64url, not UTF-8 JSON (a BOM, UTF-16 and lone
            surrogates are not), nested too deeply, or not an object.
    """
    segment = token.split(".", 1)[0]
    try:
        header = strict_json(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        # ValueError covers JSONDecodeError and UnicodeDecodeError.
        raise InvalidToken("The access token header is malformed.") from None
    if not isinstance(header, dict):
        raise InvalidToken("The access token header is malformed.")
    return header


def _is_number(value: Any) -> bool:
    """A finite JSON number that is not a boolean. An integer too large for
    a double (``1`` followed by 400 zeros) is not: the gateway's decoder
    reads it as infinity, and a NumericDate is a double anyway."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


_ABSENT = object()


def check_claims(claims: dict[str, Any], *, now: float, leeway: float) -> None:
    """Check claim types and times (the part PyJWT does not do our way).

    Args:
        claims: the payload, signature already verified, ``iss``/``aud``
            and presence already checked.
        now: Unix time, seconds.
        leeway: tolerated clock skew, seconds.

    Raises:
        ExpiredToken: ``exp`` is more than ``leeway`` seconds past.
        InvalidToken: a mistyped claim, a future ``iat``/``nbf``, or a
            ``client_id`` that is not a string equal to ``sub``.
    """
    for name in _NON_EMPTY_STRINGS:
        value = claims[name]
        if not isinstance(value, str) or not value:
            raise InvalidToken(f"The access token claim {name!r} must be a non-empty string.")
    for name in _STRINGS:
        if not isinstance(claims[name], str):
            raise InvalidToken(f"The access token claim {name!r} must be a string.")
    for name in _STRING_ARRAYS:
        value = claims[name]
        if type(value) is not list or not all(type(item) is str for item in value):
            raise InvalidToken(f"The access token claim {name!r} must be an array of strings.")
    iat, exp = claims["iat"], claims["exp"]
    if not _is_number(iat) or not _is_number(exp):
        raise InvalidToken("The access token claims 'iat' and 'exp' must be numbers.")
    nbf = claims.get("nbf", _ABSENT)
    if nbf is not _ABSENT and not _is_number(nbf):
        raise InvalidToken("The access token claim 'nbf' must be a number.")
    if "client_id" in claims:
        client_id = claims["client_id"]
        if not isinstance(client_id, str) or client_id != claims["sub"]:
            raise InvalidToken("The access token claim 'client_id' must be a string equal to 'sub'.")
    if exp <= now - leeway:
        raise ExpiredToken("The access token has expired.")
    if iat > now + leeway:
        raise InvalidToken("The access token was issued in the future.")
    if nbf is not _ABSENT and nbf > now + leeway:
        raise InvalidToken("The access token is not valid yet.")


#: Header segment -> (key source, its generation, key): every token signed by
#: one key has the same header, so the header checks run once per key, not
#: once per token. Only headers that passed are kept; bounded by clearing.
_HEADER_CACHE: dict[str, tuple[object, int, Any]] = {}
_HEADER_CACHE_SIZE = 256


def _key_for_header(segment: str, token: str, keys: KeySource):
    cached = _HEADER_CACHE.get(segment)
    if cached is not None and cached[0] is keys and cached[1] == keys.generation:
        return cached[2]
    header = unverified_header(token)
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidToken('The token is not an access token (typ must be "at+jwt").')
    if not FORBIDDEN_HEADERS.isdisjoint(header):
        raise InvalidToken("The access token header names its own key or critical extensions; refused.")
    if "b64" in header and header["b64"] is not True:
        # RFC 7797 unencoded payloads are not access tokens; only the default (true) may be spelled out.
        raise InvalidToken("The access token header asks for an unencoded payload; refused.")
    kid = header.get("kid")
    key = keys.get_key(kid) if isinstance(kid, str) and kid else None
    if key is None:
        raise InvalidToken("The access token was signed with an unknown key.")
    if header.get("alg") != key.algorithm:
        raise InvalidToken("The access token uses an algorithm not allowed for its key.")
    if len(_HEADER_CACHE) >= _HEADER_CACHE_SIZE:
        _HEADER_CACHE.clear()
    _HEADER_CACHE[segment] = (keys, keys.generation, key)
    return key


def decode_access_token(token: str, keys: KeySource, *, issuer: str, audience: str,
                        leeway: float = LEEWAY_SECONDS, now: float | None = None) -> dict[str, Any]:
    """Verify an access token and return its claims (no cache, no revocation).

    Args:
        token: compact JWS as sent after ``Bearer``.
        keys: the key source; the ``kid`` header picks one and that key's
            algorithm is the only one accepted.
        issuer: required ``iss`` (exact match).
        audience: required ``aud``: equal, or an element of an array.
        leeway: clock skew allowed on ``exp``/``nbf``/``iat``, seconds.
        now: Unix time in seconds (default: the current time).

    Returns:
        dict: the verified claims, every one of ``REQUIRED_CLAIMS`` present
        and typed.

    Raises:
        ExpiredToken: ``exp`` is past beyond ``leeway`` (an InvalidToken).
        InvalidToken: anything else wrong (see the module docstring).
        VerifierUnavailable: the key source has no keys at all yet.
    """
    if type(token) is not str or len(token) > MAX_TOKEN_BYTES or not _COMPACT_JWS.fullmatch(token):
        raise InvalidToken("The access token is not a compact JWS of at most 8192 ASCII bytes.")
    key = _key_for_header(token[:token.index(".")], token, keys)
    try:
        claims = _JWT.decode(token, key=key.key, algorithms=[key.algorithm], audience=audience,
                             issuer=issuer, options=_DECODE_OPTIONS)
    except jwt.InvalidAudienceError:
        raise InvalidToken("The access token is for another audience.") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("The access token comes from another issuer.") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("The access token signature is invalid.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"The access token lacks the {exc.claim!r} claim.") from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise InvalidToken("The access token is malformed.") from None
    check_claims(claims, now=time.time() if now is None else now, leeway=leeway)
    return claims

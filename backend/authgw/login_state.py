"""The login-state cookie, encrypted.

Between ``/api/auth/login`` and ``/api/auth/callback`` the browser carries
the state of each unfinished login in the Flask session cookie
``login_state`` (path ``/api/auth``): Authlib's ``state``, the OpenID
``nonce`` and the PKCE ``code_verifier`` (RFC 7636 §4.1), and the ``next``
path. Flask's default cookie is only signed, so anyone who can read the
cookie (a proxy log, a browser extension, a shared machine's profile) can
read the verifier and the nonce. This interface encrypts the serialized
session with Fernet (AES-128-CBC + HMAC-SHA256, authenticated) under a key
derived from ``SECRET_KEY`` by HKDF-SHA256 (RFC 5869) with its own
``info``, so the key serves no other purpose (docs/login-and-tokens.md,
"The login-state cookie").

Every cookie attribute stays Flask's: ``HttpOnly``, ``SameSite=Lax``,
``Path=/api/auth``, ``Secure`` when ``PUBLIC_URL`` is https, and the expiry
of ``PERMANENT_SESSION_LIFETIME``. A cookie that does not decrypt (tampered,
truncated, older than the lifetime, sealed under another key) opens as an
empty session, so the callback answers ``invalid_state``, never 500.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

#: HKDF ``info`` of the login-state key (RFC 5869 §3.2: one info per use).
LOGIN_STATE_INFO = b"authgw login-state cookie"
#: Longest cookie value opened, in characters (browsers keep about 4 KB).
MAX_COOKIE_LENGTH = 8192


def derive_fernet(secret_key: str | bytes, info: bytes) -> Fernet:
    """Return a Fernet keyed by HKDF-SHA256 of ``secret_key`` for one purpose.

    Args:
        secret_key: the application's ``SECRET_KEY``.
        info: the purpose (RFC 5869 §3.2 ``info``); a different value gives
            an unrelated key.

    Returns:
        Fernet: encrypts and authenticates (AES-128-CBC + HMAC-SHA256).
    """
    raw = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)
    return Fernet(base64.urlsafe_b64encode(key))


class _FernetSerializer:
    """The serializer Flask's cookie interface expects (``dumps``/``loads``),
    encrypting instead of only signing."""

    def __init__(self, fernet: MultiFernet, serializer: Any) -> None:
        self._fernet = fernet
        self._serializer = serializer

    def dumps(self, value: dict) -> str:
        return self._fernet.encrypt(self._serializer.dumps(value).encode("utf-8")).decode("ascii")

    def loads(self, value: str, max_age: int | None = None) -> dict:
        """Decrypt ``value``; raise ``BadSignature`` when it does not open."""
        if len(value) > MAX_COOKIE_LENGTH:
            raise BadSignature("login-state cookie too long")
        try:
            plain = self._fernet.decrypt(value.encode("ascii"), ttl=max_age)
            data = self._serializer.loads(plain.decode("utf-8"))
        except (InvalidToken, UnicodeError, ValueError, TypeError) as exc:
            raise BadSignature("login-state cookie does not decrypt") from exc
        if not isinstance(data, dict):
            raise BadSignature("login-state cookie is not a mapping")
        return data


class EncryptedLoginStateInterface(SecureCookieSessionInterface):
    """Flask session interface storing the session encrypted in its cookie.

    The key is ``derive_fernet(SECRET_KEY, LOGIN_STATE_INFO)``; keys of
    ``SECRET_KEY_FALLBACKS`` still open older cookies. Install with
    ``app.session_interface = EncryptedLoginStateInterface()``.
    """

    def get_signing_serializer(self, app: Flask) -> _FernetSerializer | None:  # type: ignore[override]
        """Return the encrypting serializer, or None without ``SECRET_KEY``
        (Flask then refuses to store a session)."""
        if not app.secret_key:
            return None
        keys = [app.secret_key, *reversed(app.config.get("SECRET_KEY_FALLBACKS") or [])]
        fernet = MultiFernet([derive_fernet(key, LOGIN_STATE_INFO) for key in keys])
        return _FernetSerializer(fernet, self.serializer)

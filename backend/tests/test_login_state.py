"""The login-state cookie is encrypted (docs/login-and-tokens.md, "The login-state cookie").

It carries the state, the OpenID nonce and the PKCE code verifier of each
unfinished login; none of them may be readable from the cookie, a cookie
that does not decrypt opens as no login at all (``invalid_state``), and
the login flow works as before.
"""

from __future__ import annotations

import base64
import binascii
import time
import zlib

import pytest
from itsdangerous import URLSafeTimedSerializer

from authgw.login_state import LOGIN_STATE_INFO, EncryptedLoginStateInterface, derive_fernet

from .conftest import SECRET_KEY
from .flows import access_token_of, bearer, finish_login, query_of, set_cookies, start_login
from .test_login import assert_login_error


def _decodings(value: str) -> list[bytes]:
    """Every form a reader could get from the cookie value without the key:
    the text, base64/base64url of it and of each dot-separated part, and
    zlib inflations of those (Flask's signed cookie is base64url of JSON,
    zlib-compressed when that is shorter, behind a leading dot)."""
    out = [value.encode()]
    for piece in [value, *value.split(".")]:
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                raw = decode(piece + "=" * (-len(piece) % 4))
            except (binascii.Error, ValueError):
                continue
            out.append(raw)
            try:
                out.append(zlib.decompress(raw))
            except zlib.error:
                pass
    return out


def _login_secrets(client, provider):
    """Start a login; return (cookie value, state, nonce, verifier, authorization URL)."""
    response, url = start_login(client, next="/reports")
    cookie = set_cookies(response)["login_state"]["value"]
    params = query_of(url)
    code = provider.authorize(url)
    return cookie, params["state"], params["nonce"], code, url


def test_the_login_state_cookie_shows_no_state_nonce_or_verifier(client, provider):
    cookie, state, nonce, code, url = _login_secrets(client, provider)
    callback = finish_login(client, code, state)
    assert access_token_of(callback)
    verifier = provider.token_requests[-1]["code_verifier"]
    assert len(verifier) >= 43
    for secret in (state, nonce, verifier, "/reports"):
        for decoded in _decodings(cookie):
            assert secret.encode() not in decoded, f"{secret!r} readable in the login-state cookie"


def test_flasks_signed_cookie_of_the_same_login_would_show_them(app, client):
    """The check above can fail: the same session, signed only (Flask's default), shows the nonce."""
    response, url = start_login(client)
    nonce = query_of(url)["nonce"]
    cookie = set_cookies(response)["login_state"]["value"]
    data = EncryptedLoginStateInterface().get_signing_serializer(app).loads(cookie)
    signed_only = URLSafeTimedSerializer(SECRET_KEY, salt="cookie-session",
                                         serializer=app.session_interface.serializer).dumps(data)
    assert any(nonce.encode() in decoded for decoded in _decodings(signed_only))


def test_the_cookie_decrypts_only_with_the_login_state_key(app, client):
    cookie = set_cookies(start_login(client)[0])["login_state"]["value"]
    assert derive_fernet(SECRET_KEY, LOGIN_STATE_INFO).decrypt(cookie.encode())
    with pytest.raises(Exception):
        derive_fernet(SECRET_KEY, b"authgw refresh-token successor").decrypt(cookie.encode())


@pytest.mark.filterwarnings("ignore:The 'login_state' cookie is too large")
@pytest.mark.parametrize("tamper", ["flip_a_character", "truncate", "garbage", "not_ascii", "huge",
                                    "flask_signed_cookie", "other_secret_key"])
def test_a_tampered_login_state_cookie_is_no_login_at_all(app, client, provider, tamper):
    response, url = start_login(client)
    cookie = set_cookies(response)["login_state"]["value"]
    code, state = provider.authorize(url), query_of(url)["state"]
    forged = {
        "flip_a_character": cookie[:40] + ("A" if cookie[40] != "A" else "B") + cookie[41:],
        "truncate": cookie[: len(cookie) // 2],
        "garbage": "not-a-cookie",
        "not_ascii": "caf\u00e9" + cookie,
        "huge": cookie * 20,
        "flask_signed_cookie": URLSafeTimedSerializer(SECRET_KEY, salt="cookie-session").dumps({"x": 1}),
        "other_secret_key": derive_fernet("another-secret-key-of-enough-length-0123456789",
                                          LOGIN_STATE_INFO).encrypt(b'{"x": 1}').decode(),
    }[tamper]
    victim = app.test_client()
    victim.set_cookie("login_state", forged, path="/api/auth")
    result = finish_login(victim, code, state)
    assert_login_error(result, "invalid_state")
    assert provider.token_requests == []


def test_a_login_state_cookie_older_than_its_lifetime_is_invalid_state(app, client, provider):
    response, url = start_login(client)
    code, state = provider.authorize(url), query_of(url)["state"]
    fernet = derive_fernet(SECRET_KEY, LOGIN_STATE_INFO)
    plain = fernet.decrypt(set_cookies(response)["login_state"]["value"].encode())
    lifetime = int(app.permanent_session_lifetime.total_seconds())
    old = fernet.encrypt_at_time(plain, int(time.time()) - lifetime - 5).decode()
    client.set_cookie("login_state", old, path="/api/auth")
    assert_login_error(finish_login(client, code, state), "invalid_state")


def test_the_whole_login_still_works_with_the_encrypted_cookie(client, provider):
    response, url = start_login(client, next="/reports")
    cookie = set_cookies(response)["login_state"]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and cookie["path"] == "/api/auth"
    assert "expires" in cookie
    token = access_token_of(finish_login(client, provider.authorize(url), query_of(url)["state"]))
    assert client.get("/api/me", headers=bearer(token)).status_code == 200


def test_a_cookie_sealed_under_a_fallback_secret_key_still_opens(make_app, provider):
    old = make_app(SECRET_KEY="old-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    response, url = start_login(old.test_client())
    cookie = set_cookies(response)["login_state"]["value"]
    new = make_app()
    new.config["SECRET_KEY_FALLBACKS"] = ["old-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"]
    client = new.test_client()
    client.set_cookie("login_state", cookie, path="/api/auth")
    callback = finish_login(client, provider.authorize(url), query_of(url)["state"])
    assert access_token_of(callback)

"""The working core, end to end through the gateway on the native stack:
browser-like login through the dev IdP, the bearer token on /api, the
gateway's rejection of forged tokens, refresh rotation and reuse, logout
honoured within 5 seconds."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import requests

from stacklib import BASE_URL, browser_login, unique_email, wait_until


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_login_redirects_to_provider_with_pkce_nonce_state_and_login_hint(base_url):
    email = unique_email()
    response = requests.get(f"{base_url}/api/auth/login", params={"login_hint": email, "next": "/profile"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0] and query["state"][0] and query["nonce"][0]
    assert query["login_hint"] == [email]
    assert query["redirect_uri"] == [f"{base_url}/api/auth/callback"]
    login_state = response.headers["Set-Cookie"]
    assert "HttpOnly" in login_state and "SameSite=Lax" in login_state


def test_callback_answers_303_with_token_only_in_fragment_and_refresh_cookie(base_url):
    result = browser_login(unique_email(), next_path="/profile")
    callback = result.callback_response
    location = urlsplit(callback.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{base_url}/auth/callback"
    assert "access_token" not in location.query
    assert result.fragment["token_type"] == "Bearer"
    assert int(result.fragment["expires_in"]) > 0
    assert result.fragment["next"] == "/profile"
    assert callback.headers["Cache-Control"].startswith("no-store")
    assert callback.headers["Referrer-Policy"] == "no-referrer"
    cookies = callback.headers["Set-Cookie"]
    assert "refresh_token=" in cookies and "HttpOnly" in cookies and "SameSite=Strict" in cookies
    assert "Path=/api/auth" in cookies


def test_me_returns_the_signed_in_user_for_the_bearer_token(base_url):
    email = unique_email("alice")
    result = browser_login(email)
    response = requests.get(f"{base_url}/api/me", headers=result.auth, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == email
    assert set(body) >= {"id", "email", "name", "picture", "roles", "permissions"}
    assert "user" in body["roles"]


def test_gateway_rejects_forged_token_with_json_and_www_authenticate(base_url, signed_in):
    header, payload, _signature = signed_in.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forgeries = [
        f"{header}.{_b64(claims)}.{_signature}",  # edited payload, old signature
        f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}.",  # alg none
        "not-a-token",
    ]
    for forged in forgeries:
        response = requests.get(f"{base_url}/api/me", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
        assert response.status_code == 401, forged
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["error"] == "invalid_token"
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="api"') and 'error="invalid_token"' in challenge


def test_request_without_token_gets_401_with_realm_only(base_url):
    response = requests.get(f"{base_url}/api/me", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]


def test_access_token_in_query_string_is_ignored(base_url, signed_in):
    response = requests.get(f"{base_url}/api/me", params={"access_token": signed_in.access_token}, timeout=10)
    assert response.status_code == 401


def test_spoofed_identity_headers_are_replaced_by_the_gateway(base_url, signed_in):
    spoofed = {"X-Auth-User-Id": "1", "X-Auth-Email": "root@evil.example", "X-Auth-Roles": "admin",
               "X-Auth-Permissions": "users:write"}
    response = requests.get(f"{base_url}/api/whoami", headers={**signed_in.auth, **spoofed}, timeout=10)
    assert response.status_code == 200
    seen = response.json()["gateway_headers"]
    me = requests.get(f"{base_url}/api/me", headers=signed_in.auth, timeout=10).json()
    assert seen["X-Auth-User-Id"] == me["id"]
    assert seen["X-Auth-Email"] == me["email"]
    assert "admin" not in seen.get("X-Auth-Roles", "").split(",")
    assert "users:write" not in seen.get("X-Auth-Permissions", "").split(",")


def test_spoofed_identity_headers_without_token_get_401(base_url):
    response = requests.get(f"{base_url}/api/me", headers={"X-Auth-User-Id": "1", "X-Auth-Email": "a@b.c"}, timeout=10)
    assert response.status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_session(base_url, signed_in):
    session = signed_in.session
    first_cookie = signed_in.refresh_cookie
    response = session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["access_token"] and body["expires_in"] > 0
    assert "refresh_token" not in body
    second_cookie = session.cookies.get("refresh_token")
    assert second_cookie and second_cookie != first_cookie
    assert requests.get(f"{base_url}/api/me", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10).status_code == 200

    # Body-based clients get the rotated token in JSON.
    response = requests.post(f"{base_url}/api/auth/refresh", json={"refresh_token": second_cookie}, timeout=10)
    assert response.status_code == 200
    third = response.json()["refresh_token"]
    assert third not in (first_cookie, second_cookie)


def test_refresh_token_reuse_after_grace_window_revokes_session(base_url):
    result = browser_login(unique_email())
    spent = result.refresh_cookie
    response = requests.post(f"{base_url}/api/auth/refresh", json={"refresh_token": spent}, timeout=10)
    assert response.status_code == 200
    fresh = response.json()["refresh_token"]
    # Within the grace window the spent token still works (several tabs)...
    assert requests.post(f"{base_url}/api/auth/refresh", json={"refresh_token": spent}, timeout=10).status_code == 200
    # ...after it, presenting it again is reuse: 401 invalid_grant, session revoked.
    import time

    time.sleep(11)
    response = requests.post(f"{base_url}/api/auth/refresh", json={"refresh_token": spent}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert requests.post(f"{base_url}/api/auth/refresh", json={"refresh_token": fresh}, timeout=10).status_code == 401
    refused, seconds = wait_until(
        lambda: requests.get(f"{base_url}/api/me", headers=result.auth, timeout=10).status_code == 401, timeout=6)
    assert refused, f"access token of the revoked session still accepted after {seconds:.1f} s"


def test_cookie_refresh_without_our_origin_is_refused_and_spends_nothing(base_url, signed_in):
    session = signed_in.session
    for headers in ({}, {"Origin": "https://evil.example"}):
        response = session.post(f"{base_url}/api/auth/refresh", headers=headers, timeout=10)
        assert response.status_code == 403
        assert response.json()["error"]
    response = session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url}, timeout=10)
    assert response.status_code == 200


def test_logout_refuses_the_access_token_within_5_seconds(base_url, signed_in):
    assert requests.get(f"{base_url}/api/me", headers=signed_in.auth, timeout=10).status_code == 200
    response = signed_in.session.post(f"{base_url}/api/auth/logout", headers={"Origin": base_url}, timeout=10)
    assert response.status_code == 204
    assert "refresh_token=" in response.headers.get("Set-Cookie", "")
    refused, seconds = wait_until(
        lambda: requests.get(f"{base_url}/api/me", headers=signed_in.auth, timeout=10).status_code == 401, timeout=6)
    assert refused and seconds <= 5.0, f"still accepted after {seconds:.1f} s"
    assert signed_in.session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url}, timeout=10).status_code == 401


def test_sessions_list_marks_current_and_delete_revokes(base_url):
    email = unique_email()
    laptop = browser_login(email)
    phone = browser_login(email)
    listed = requests.get(f"{base_url}/api/auth/sessions", headers=laptop.auth, timeout=10).json()["sessions"]
    assert len(listed) == 2
    assert sum(s["current"] for s in listed) == 1
    other = next(s for s in listed if not s["current"])
    assert requests.delete(f"{base_url}/api/auth/sessions/{other['id']}", headers=laptop.auth, timeout=10).status_code == 204
    refused, _ = wait_until(lambda: requests.get(f"{base_url}/api/me", headers=phone.auth, timeout=10).status_code == 401, timeout=6)
    assert refused
    stranger = browser_login(unique_email())
    mine = requests.get(f"{base_url}/api/auth/sessions", headers=laptop.auth, timeout=10).json()["sessions"][0]["id"]
    assert requests.delete(f"{base_url}/api/auth/sessions/{mine}", headers=stranger.auth, timeout=10).status_code == 404


def test_jwks_publishes_signing_keys_with_kid_alg_use(base_url, signed_in):
    response = requests.get(f"{base_url}/.well-known/jwks.json", timeout=10)
    assert response.status_code == 200
    assert "max-age" in response.headers.get("Cache-Control", "")
    keys = response.json()["keys"]
    header = json.loads(base64.urlsafe_b64decode(signed_in.access_token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    assert any(k["kid"] == header["kid"] and k["alg"] == "ES256" and k["use"] == "sig" for k in keys)


def test_unknown_api_route_and_login_error_are_json_or_redirect(base_url, signed_in):
    response = requests.get(f"{base_url}/api/definitely-not-here", headers=signed_in.auth, timeout=10)
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    response = requests.get(f"{base_url}/api/auth/callback", params={"state": "forged", "code": "x"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{BASE_URL}/login?error=invalid_state"
    assert "refresh_token" not in response.headers.get("Set-Cookie", "")


def test_access_denied_at_provider_redirects_to_login_error(base_url):
    session = requests.Session()
    start = session.get(f"{base_url}/api/auth/login", params={"login_hint": "deny@example.com"},
                        allow_redirects=False, timeout=10)
    at_idp = session.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = session.get(at_idp.headers["Location"], allow_redirects=False, timeout=10)
    assert callback.status_code == 303
    assert callback.headers["Location"] == f"{BASE_URL}/login?error=access_denied"

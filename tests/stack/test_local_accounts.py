"""Local accounts through the gateway (docs/local-accounts.md): register,
sign in with a password (same-origin ``Origin``), a session like the
callback's (cookie refresh, devices list, logout), one answer for a wrong
password and an unknown email, the per-account failure limit (Redis).

The test stack runs with ``PASSWORD_LOGIN=on`` (scripts/test); a stack
started without it gets its backend restarted with it for this module."""

from __future__ import annotations

import pytest
import requests

from stacklib import stack, unique_email

PASSWORD = "amber lantern orchard 77"


@pytest.fixture(scope="module", autouse=True)
def password_login_on(base_url):
    info = requests.get(f"{base_url}/api/public/info", timeout=10).json()
    if info.get("password_login") is True:
        yield
        return
    stack("restart", "backend", env={"PASSWORD_LOGIN": "on"})
    assert requests.get(f"{base_url}/api/public/info", timeout=10).json()["password_login"] is True
    yield
    stack("restart", "backend")


def register(base_url, email, password=PASSWORD):
    return requests.post(f"{base_url}/api/auth/register", json={"email": email, "password": password, "name": "Stack"},
                         timeout=10)


def sign_in(base_url, email, password=PASSWORD, session=None, origin=True):
    session = session or requests.Session()
    headers = {"Origin": base_url} if origin else {}
    return session, session.post(f"{base_url}/api/auth/login/password", json={"email": email, "password": password},
                                 headers=headers, timeout=10)


def test_register_then_sign_in_opens_a_session_like_the_callback(base_url):
    email = unique_email("local")
    created = register(base_url, email)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == email and created.json()["roles"] == ["user"]
    assert register(base_url, email).status_code == 409
    session, response = sign_in(base_url, email)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json()["access_token"]
    assert session.cookies.get("refresh_token")
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{base_url}/api/me", headers=auth, timeout=10).json()["email"] == email
    assert requests.get(f"{base_url}/api/notes", headers=auth, timeout=10).status_code == 200
    devices = requests.get(f"{base_url}/api/auth/sessions", headers=auth, timeout=10).json()["sessions"]
    assert len(devices) == 1 and devices[0]["current"] is True
    refreshed = session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url}, timeout=10)
    assert refreshed.status_code == 200
    assert session.post(f"{base_url}/api/auth/logout", headers={"Origin": base_url}, timeout=10).status_code == 204
    assert session.post(f"{base_url}/api/auth/refresh", headers={"Origin": base_url}, timeout=10).status_code == 401


def test_weak_passwords_are_refused_saying_why(base_url):
    for password, words in (("too-short", "at least 12"), ("qwerty123456", "commonly used")):
        response = register(base_url, unique_email("weak"), password)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
        assert words in response.json()["error_description"]


def test_wrong_password_and_unknown_email_look_the_same(base_url):
    email = unique_email("same")
    assert register(base_url, email).status_code == 201
    _, wrong = sign_in(base_url, email, "not the password at all")
    _, unknown = sign_in(base_url, unique_email("nobody"))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() and wrong.json()["error"] == "invalid_grant"


def test_a_foreign_origin_is_refused(base_url):
    email = unique_email("csrf")
    register(base_url, email)
    _, response = sign_in(base_url, email, origin=False)
    assert response.status_code == 403


def test_repeated_failures_for_one_account_are_limited(base_url):
    email = unique_email("guessed")
    assert register(base_url, email).status_code == 201
    statuses = [sign_in(base_url, email, f"wrong guess {n}")[1].status_code for n in range(6)]
    assert statuses == [401] * 5 + [429], statuses
    _, right = sign_in(base_url, email)
    assert right.status_code == 429
    other = unique_email("unaffected")
    register(base_url, other)
    assert sign_in(base_url, other)[1].status_code == 200

"""Browser login: the OpenID Connect code flow against a fake provider."""

from __future__ import annotations

import json
import time

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from authgw.extensions import db as _db
from authgw.models import AuditEvent, Session, User

from .conftest import CLIENT_ID, PUBLIC_URL
from .fakes import OMIT
from .flows import (access_token_of, bearer, finish_login, fragment_of, is_cleared, login, query_of, set_cookies,
                    start_login)

ALL_PERMISSIONS = ["audit:read", "notes:read", "notes:write", "roles:write", "service_accounts:write", "users:read", "users:write"]


def audit_events(app, event: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if event:
            query = query.where(AuditEvent.event == event)
        rows = _db.session.execute(query).scalars().all()
        _db.session.expunge_all()
        return rows


def assert_login_error(response, code: str):
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == f"{PUBLIC_URL}/login?error={code}"
    assert "access_token" not in response.headers["Location"]
    assert "access_token" not in response.get_data(as_text=True)
    assert "refresh_token" not in set_cookies(response)
    assert response.headers["Cache-Control"] == "no-store"


# -- step 1: /api/auth/login ------------------------------------------------


def test_login_redirects_to_the_provider_with_code_flow_state_nonce_and_pkce(client):
    response, url = start_login(client, login_hint="alice@example.test")
    assert url.startswith("https://idp.test/authorize?")
    params = query_of(url)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["scope"].split() == ["openid", "email", "profile"]
    assert params["redirect_uri"] == f"{PUBLIC_URL}/api/auth/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url of a SHA-256
    assert len(params["state"]) >= 20 and len(params["nonce"]) >= 16
    assert params["login_hint"] == "alice@example.test"
    assert response.headers["Cache-Control"] == "no-store"


def test_each_login_gets_a_fresh_state_nonce_and_challenge(client):
    first = query_of(start_login(client)[1])
    second = query_of(start_login(client)[1])
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name]


def test_login_without_hint_sends_no_login_hint(client):
    assert "login_hint" not in query_of(start_login(client)[1])


def test_login_with_accept_json_answers_the_authorization_url(client):
    response = client.get("/api/auth/login", headers={"Accept": "application/json"})
    assert response.status_code == 200
    url = response.get_json()["authorization_url"]
    assert url.startswith("https://idp.test/authorize?")
    assert query_of(url)["code_challenge_method"] == "S256"
    assert "login_state" in set_cookies(response)


@pytest.mark.parametrize("accept, wants_json", [
    ("application/json", True),
    ("application/json, text/plain, */*", True),                  # axios's default
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # a browser navigating
    ("*/*", False),
    ("text/html, application/json", False),
    ("text/html;q=0.5, application/json", True),
    ("", False),
])
def test_login_answers_json_only_to_clients_naming_json_over_html(client, accept, wants_json):
    response = client.get("/api/auth/login", headers={"Accept": accept})
    if wants_json:
        assert response.status_code == 200 and "authorization_url" in response.get_json()
    else:
        assert response.status_code == 302 and response.headers["Location"].startswith("https://idp.test/authorize?")


def test_login_state_cookie_is_httponly_samesite_lax(client):
    response, _ = start_login(client)
    cookie = set_cookies(response)["login_state"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/api/auth"
    assert "secure" not in cookie  # PUBLIC_URL is http in this test


def test_login_with_unreachable_provider_redirects_with_provider_error(client, provider):
    provider.discovery_unreachable = True
    response = client.get("/api/auth/login")
    assert_login_error(response, "provider_error")


def test_login_with_unreachable_provider_answers_json_error_to_json_clients(client, provider):
    provider.discovery_unreachable = True
    response = client.get("/api/auth/login", headers={"Accept": "application/json"})
    assert response.status_code == 502
    assert response.get_json()["error"] == "provider_error"


def test_app_built_after_another_uses_its_own_provider_settings(make_app):
    """Regression: Authlib cached the first app's OAuth client for the whole process."""
    make_app(GOOGLE_CLIENT_ID="first-client")
    second = make_app(GOOGLE_CLIENT_ID="second-client")
    _, url = start_login(second.test_client())
    assert query_of(url)["client_id"] == "second-client"


def test_many_unfinished_logins_keep_the_login_cookie_small_and_login_working(client, provider):
    """Regression: each started login grew the cookie until browsers dropped it (> 4 KB)."""
    for _ in range(40):
        response, url = start_login(client, next="/somewhere/deep/in/the/app")
        assert len(response.headers["Set-Cookie"]) < 4093
    callback = finish_login(client, provider.authorize(url), query_of(url)["state"])
    assert fragment_of(callback.headers["Location"])["next"] == "/somewhere/deep/in/the/app"


def test_logins_started_in_two_tabs_can_both_finish(client, provider):
    _, first_tab = start_login(client, next="/one")
    _, second_tab = start_login(client, next="/two")
    first = finish_login(client, provider.authorize(first_tab), query_of(first_tab)["state"])
    second = finish_login(client, provider.authorize(second_tab), query_of(second_tab)["state"])
    assert fragment_of(first.headers["Location"])["next"] == "/one"
    assert fragment_of(second.headers["Location"])["next"] == "/two"


# -- step 2: /api/auth/callback, success ------------------------------------


def test_callback_redirects_with_the_access_token_in_the_fragment_only(client, provider):
    response = login(client, provider, next="/reports")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(f"{PUBLIC_URL}/auth/callback#")
    assert "?" not in location.split("#")[0]
    fragment = fragment_of(location)
    assert fragment["token_type"] == "Bearer"
    assert fragment["expires_in"] == "900"
    assert fragment["next"] == "/reports"
    me = client.get("/api/me", headers=bearer(fragment["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["email"] == "alice@example.test"
    assert me.get_json()["name"] == "Alice Example"
    assert me.get_json()["picture"] == "https://images.example.test/alice.png"


def test_callback_answer_is_not_stored_and_sends_no_referrer(client, provider):
    response = login(client, provider)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_callback_sets_the_refresh_cookie_httponly_strict_on_api_auth(client, provider):
    cookie = set_cookies(login(client, provider))["refresh_token"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/auth"
    assert "secure" not in cookie
    assert len(cookie["value"]) >= 43  # 256 random bits, base64url


def test_cookies_are_secure_when_public_url_is_https(make_app, provider):
    app = make_app(PUBLIC_URL="https://auth.example.test")
    client = app.test_client()
    response, url = start_login(client)
    assert set_cookies(response)["login_state"]["secure"] is True
    assert query_of(url)["redirect_uri"] == "https://auth.example.test/api/auth/callback"
    callback = finish_login(client, provider.authorize(url), query_of(url)["state"])
    assert callback.headers["Location"].startswith("https://auth.example.test/auth/callback#access_token=")
    assert set_cookies(callback)["refresh_token"]["secure"] is True


def test_callback_clears_the_login_state_cookie(client, provider):
    assert is_cleared(set_cookies(login(client, provider))["login_state"])


def test_callback_exchanges_the_code_with_the_pkce_verifier_and_client_secret(client, provider):
    login(client, provider)
    [request] = provider.token_requests
    assert request["grant_type"] == "authorization_code"
    assert request["redirect_uri"] == f"{PUBLIC_URL}/api/auth/callback"
    assert len(request["code_verifier"]) >= 43
    # The fake provider checked the verifier against the challenge and the
    # client's credentials; a successful login proves both matched.


def test_first_login_creates_the_account_and_the_next_one_reuses_it(app, client, provider):
    first = client.get("/api/me", headers=bearer(access_token_of(login(client, provider)))).get_json()
    second = client.get("/api/me", headers=bearer(access_token_of(login(client, provider, name="Alice B")))).get_json()
    assert first["id"] == second["id"]
    assert second["name"] == "Alice B"
    with app.app_context():
        assert _db.session.query(User).count() == 1
        assert _db.session.query(Session).count() == 2  # one session per sign-in


def test_access_token_carries_the_contract_claims(app, client, provider):
    token = access_token_of(login(client, provider))
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) >= {"iss", "aud", "sub", "iat", "exp", "jti", "sid", "email", "name", "roles", "permissions"}
    assert claims["iss"] == PUBLIC_URL and claims["aud"] == "api"
    assert claims["sub"].isdigit()
    assert claims["exp"] - claims["iat"] == 900
    assert claims["roles"] == ["user"] and claims["permissions"] == ["notes:read", "notes:write"]


def test_admin_emails_get_the_admin_role_and_its_permissions(make_app, provider):
    client = make_app(ADMIN_EMAILS="boss@example.test").test_client()
    token = access_token_of(login(client, provider, email="Boss@Example.test"))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["roles"] == ["admin", "user"]
    assert claims["permissions"] == ALL_PERMISSIONS
    me = client.get("/api/me", headers=bearer(token)).get_json()
    assert me["roles"] == ["admin", "user"] and me["permissions"] == ALL_PERMISSIONS


def test_successful_login_is_audited_without_any_token(app, client, provider):
    response = login(client, provider)
    access = access_token_of(response)
    refresh = set_cookies(response)["refresh_token"]["value"]
    [event] = audit_events(app, "login_succeeded")
    assert event.email == "alice@example.test" and event.user_id is not None
    dump = json.dumps(event.details)
    assert access not in dump and refresh not in dump and "eyJ" not in dump


# -- step 2: /api/auth/callback, failures -----------------------------------


def test_provider_access_denied_is_reported_as_access_denied(client):
    _, url = start_login(client)
    response = client.get("/api/auth/callback", query_string={"error": "access_denied", "state": query_of(url)["state"]})
    assert_login_error(response, "access_denied")


@pytest.mark.parametrize("error", ["server_error", "temporarily_unavailable", "invalid_request", "x" * 500])
def test_other_provider_errors_are_reported_as_provider_error(client, error):
    _, url = start_login(client)
    response = client.get("/api/auth/callback", query_string={"error": error, "state": query_of(url)["state"]})
    assert_login_error(response, "provider_error")


def test_callback_without_state_is_invalid_state(client, provider):
    _, url = start_login(client)
    code = provider.authorize(url)
    assert_login_error(client.get("/api/auth/callback", query_string={"code": code}), "invalid_state")


def test_callback_without_code_is_invalid_state(client):
    _, url = start_login(client)
    response = client.get("/api/auth/callback", query_string={"state": query_of(url)["state"]})
    assert_login_error(response, "invalid_state")


def test_callback_with_an_unknown_state_is_invalid_state(client, provider):
    _, url = start_login(client)
    code = provider.authorize(url)
    assert_login_error(finish_login(client, code, "forged-state"), "invalid_state")
    assert provider.token_requests == []  # the code was never exchanged


def test_callback_in_a_browser_that_did_not_start_the_login_is_invalid_state(app, client, provider):
    """Login CSRF: a victim's browser must not complete an attacker's login."""
    _, url = start_login(client)
    code = provider.authorize(url)
    victim = app.test_client()
    assert_login_error(finish_login(victim, code, query_of(url)["state"]), "invalid_state")


def test_replayed_callback_is_invalid_state(client, provider):
    _, url = start_login(client)
    code, state = provider.authorize(url), query_of(url)["state"]
    assert finish_login(client, code, state).status_code == 303
    assert_login_error(finish_login(client, code, state), "invalid_state")


def test_replayed_callback_with_a_copy_of_the_old_login_cookie_gets_no_token(app, client, provider):
    response, url = start_login(client)
    old_cookie = set_cookies(response)["login_state"]["value"]
    code, state = provider.authorize(url), query_of(url)["state"]
    assert access_token_of(finish_login(client, code, state))
    replay = app.test_client()
    replay.set_cookie("login_state", old_cookie, path="/api/auth")
    response = finish_login(replay, code, state)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{PUBLIC_URL}/login?error=")
    assert "refresh_token" not in set_cookies(response)


@pytest.mark.parametrize("case", ["other_key_same_kid", "unknown_kid", "unsigned", "wrong_nonce", "no_nonce",
                                  "wrong_aud", "aud_list_without_us", "wrong_iss", "no_iss", "expired", "no_sub"])
def test_bad_id_token_is_invalid_id_token(client, provider, case):
    now = int(time.time())
    other_key = ec.generate_private_key(ec.SECP256R1())
    variants = {
        "other_key_same_kid": {"sign_with": other_key},
        "unknown_kid": {"sign_with": other_key, "kid": "attacker-key"},
        "unsigned": {"sign_with": "none"},
        "wrong_nonce": {"nonce": "another-nonce"},
        "no_nonce": {"nonce": OMIT},
        "wrong_aud": {"aud": "someone-else.apps.example.test"},
        "aud_list_without_us": {"aud": ["someone-else.apps.example.test"]},
        "wrong_iss": {"iss": "https://evil.example"},
        "no_iss": {"iss": OMIT},
        "expired": {"iat": now - 7200, "exp": now - 3600},
        "no_sub": {"sub": OMIT},
    }
    assert_login_error(login(client, provider, **variants[case]), "invalid_id_token")


def test_id_token_for_several_audiences_including_us_is_accepted(client, provider):
    assert access_token_of(login(client, provider, aud=[CLIENT_ID, "other.apps.example.test"]))


@pytest.mark.parametrize("verified", [False, "false", None, OMIT])
def test_unverified_email_is_refused(client, provider, verified):
    assert_login_error(login(client, provider, email_verified=verified), "email_not_verified")


def test_id_token_without_email_is_refused(client, provider):
    assert_login_error(login(client, provider, email=OMIT), "invalid_id_token")


def test_allowed_emails_let_listed_accounts_in_and_keep_others_out(make_app, provider):
    client = make_app(ALLOWED_EMAILS="bob@example.test, carol@example.test").test_client()
    assert_login_error(login(client, provider, email="alice@example.test"), "not_allowed")
    assert access_token_of(login(client, provider, email="bob@example.test"))
    assert access_token_of(login(client, provider, email="Carol@Example.TEST"))


def test_allowed_domain_needs_the_hosted_domain_claim(make_app, provider):
    client = make_app(ALLOWED_EMAIL_DOMAINS="corp.example").test_client()
    assert access_token_of(login(client, provider, email="dev@corp.example", hd="corp.example"))
    # Same domain in a consumer account (no hd): the domain is not proof of membership.
    assert_login_error(login(client, provider, email="mallory@corp.example"), "not_allowed")
    # hd of the allowed domain but an email elsewhere.
    assert_login_error(login(client, provider, email="mallory@gmail.com", hd="corp.example"), "not_allowed")
    assert_login_error(login(client, provider, email="x@other.example", hd="other.example"), "not_allowed")


def test_admin_emails_may_sign_in_despite_the_allowlist(make_app, provider):
    client = make_app(ALLOWED_EMAILS="bob@example.test", ADMIN_EMAILS="boss@example.test").test_client()
    assert access_token_of(login(client, provider, email="boss@example.test"))


def test_disabled_account_cannot_sign_in(app, client, provider):
    assert access_token_of(login(client, provider))
    with app.app_context():
        user = _db.session.execute(sa.select(User)).scalar_one()
        user.active = False
        _db.session.commit()
    assert_login_error(login(client, provider), "account_disabled")


@pytest.mark.parametrize("status", [500, 502, 400])
def test_token_endpoint_error_is_provider_error(client, provider, status):
    provider.token_endpoint_failure = status
    assert_login_error(login(client, provider), "provider_error")


def test_unreachable_token_endpoint_is_provider_error(client, provider):
    provider.token_endpoint_failure = "unreachable"
    assert_login_error(login(client, provider), "provider_error")


def test_failed_login_opens_no_session_and_creates_no_account(app, client, provider):
    assert_login_error(login(client, provider, email_verified=False), "email_not_verified")
    with app.app_context():
        assert _db.session.query(Session).count() == 0
        assert _db.session.query(User).count() == 0


def test_failed_login_is_audited_with_its_reason(app, client, provider):
    assert_login_error(login(client, provider, email="eve@example.test", email_verified=False), "email_not_verified")
    [event] = audit_events(app, "login_failed")
    assert event.details["reason"] == "email_not_verified"
    assert event.email == "eve@example.test"
    assert "eyJ" not in json.dumps(event.details)


def test_failed_login_clears_the_used_login_state(client, provider):
    response = login(client, provider, email_verified=False)
    assert is_cleared(set_cookies(response)["login_state"])


@pytest.mark.parametrize("email", ["eve\n@example.com", "eve @example.com", "évé@example.com", "eve@exa\rmple.com"])
def test_email_that_cannot_travel_in_identity_headers_is_refused(client, provider, email):
    assert_login_error(login(client, provider, email=email), "invalid_id_token")

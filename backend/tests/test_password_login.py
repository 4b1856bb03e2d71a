"""Local accounts (docs/local-accounts.md): ``PASSWORD_LOGIN`` off is 404,
registration's rules and errors, password sign-in opening a session as the
callback does, the same ``invalid_grant`` for a wrong password and an
unknown email, the per-account failure limit, the allowlist and
``ADMIN_EMAILS``, Argon2id hashes, and the ``flask users`` commands."""

from __future__ import annotations

import statistics
import time

import pytest
import sqlalchemy as sa

from authgw.extensions import db as _db
from authgw.models import AuditEvent, Session, User
from authgw.passwords import password_problem

from .conftest import PUBLIC_URL
from .flows import ORIGIN, is_cleared, set_cookies
from .test_admin import assert_error, claims_of

GOOD = "violet tractor umbrella 42"
REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login/password"


@pytest.fixture
def app(make_app):
    return make_app(PASSWORD_LOGIN="on")


def register(client, email="grace@example.test", password=GOOD, name="Grace Hopper"):
    return client.post(REGISTER, json={"email": email, "password": password, "name": name})


def sign_in(client, email="grace@example.test", password=GOOD, headers=ORIGIN):
    return client.post(LOGIN, json={"email": email, "password": password}, headers=headers)


def user_by_email(app, email) -> User:
    with app.app_context():
        user = _db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        user.role_names
        _db.session.expunge_all()
        return user


# -- off by default ------------------------------------------------------------------


def test_password_login_is_404_when_off(make_app):
    client = make_app().test_client()
    assert_error(register(client), 404, "not_found")
    assert_error(sign_in(client), 404, "not_found")
    assert client.get("/api/public/info").get_json()["password_login"] is False


def test_public_info_says_when_password_login_is_on(client):
    assert client.get("/api/public/info").get_json()["password_login"] is True


# -- registration ---------------------------------------------------------------------


def test_register_creates_an_account_with_an_argon2id_hash(app, client):
    response = register(client, email="  Grace@Example.TEST ")
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["email"] == "grace@example.test" and body["name"] == "Grace Hopper" and body["roles"] == ["user"]
    user = user_by_email(app, "grace@example.test")
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert GOOD not in user.password_hash and user.issuer == "local"


def test_register_refuses_a_taken_email_with_409(client, make_user):
    make_user(email="taken@example.test")
    assert_error(register(client, email="taken@example.test"), 409, "conflict")
    assert register(client).status_code == 201
    assert_error(register(client), 409, "conflict")


@pytest.mark.parametrize("password, words", [
    ("short-pw-1", "at least 12 characters"),
    ("x" * 129, "at most 128 characters"),
    ("qwerty123456", "commonly used"),
    ("1q2w3e4r5t6y", "commonly used"),
    ("Password1234!", "too easy to guess"),
    ("aaaaaaaaaaaaaaaa", "too easy to guess"),
])
def test_register_refuses_weak_passwords_saying_why(client, password, words):
    response = register(client, password=password)
    assert_error(response, 400, "invalid_request")
    assert words in response.get_json()["error_description"]


def test_a_password_made_of_the_email_is_too_easy(client):
    response = register(client, email="margaret.hamilton@example.test", password="margaret.hamilton")
    assert_error(response, 400, "invalid_request")


def test_register_refuses_bad_bodies(client):
    for body in ({"email": "not-an-email", "password": GOOD}, {"email": "a@example.test"},
                 {"email": "a@example.test", "password": 123456789012}, {"email": "a@example.test", "password": GOOD,
                                                                          "admin": True}):
        assert_error(client.post(REGISTER, json=body), 400, "invalid_request")
    assert_error(client.post(REGISTER, data="email=a", content_type="application/x-www-form-urlencoded"),
                 400, "invalid_request")


def test_the_allowlist_applies_to_registration(make_app):
    client = make_app(PASSWORD_LOGIN="on", ALLOWED_EMAILS="ok@example.test").test_client()
    assert_error(register(client, email="stranger@example.test"), 403, "not_allowed")
    assert register(client, email="ok@example.test").status_code == 201


def test_the_domain_allowlist_applies_to_registration_and_sign_in(make_app):
    client = make_app(PASSWORD_LOGIN="on", ALLOWED_EMAIL_DOMAINS="ok.example").test_client()
    assert_error(register(client, email="someone@elsewhere.example"), 403, "not_allowed")
    assert_error(register(client, email="someone@sub.ok.example"), 403, "not_allowed")  # the exact domain only
    assert register(client, email="someone@ok.example").status_code == 201


def test_a_registration_racing_another_of_the_same_email_is_409(app, client, monkeypatch):
    """The other request's insert lands between this one's check and its
    insert (password hashing sits between them): 409, not a 500."""
    import authgw.passwords
    from authgw.clock import utcnow

    real = authgw.passwords.password_problem

    def concurrent_registration(password, user_inputs=()):
        _db.session.add(User(issuer="local", subject="racer", email="grace@example.test", name="Racer",
                             created_at=utcnow(), active=True))
        _db.session.flush()
        return real(password, user_inputs=user_inputs)

    monkeypatch.setattr(authgw.passwords, "password_problem", concurrent_registration)
    assert_error(register(client), 409, "conflict")
    monkeypatch.setattr(authgw.passwords, "password_problem", real)
    with app.app_context():
        assert _db.session.execute(sa.select(User).where(User.email == "grace@example.test")).first() is None


def test_another_constraint_error_stays_a_500(client, monkeypatch):
    """Only a unique key taken concurrently is a 409; a NOT NULL or foreign
    key violation is a bug, answered 500 (and logged with its traceback)."""
    import authgw.passwords

    class NotNull(Exception):
        args = (1048, "Column 'name' cannot be null")

    def broken(password, user_inputs=()):
        raise sa.exc.IntegrityError("INSERT ...", {}, NotNull())

    monkeypatch.setattr(authgw.passwords, "password_problem", broken)
    assert_error(register(client), 500, "server_error")


def test_registration_never_creates_an_admin(make_app):
    client = make_app(PASSWORD_LOGIN="on", ADMIN_EMAILS="boss@example.test").test_client()
    assert_error(register(client, email="boss@example.test"), 403, "not_allowed")


# -- sign-in ---------------------------------------------------------------------------


def test_password_sign_in_opens_a_session_like_the_callback(app, client):
    assert register(client).status_code == 201
    response = sign_in(client)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"} and body["token_type"] == "Bearer"
    cookie = set_cookies(response)["refresh_token"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/api/auth"
    claims = claims_of(body["access_token"])
    assert claims["email"] == "grace@example.test" and "client_id" not in claims
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/me", headers=auth).get_json()["email"] == "grace@example.test"
    (listed,) = client.get("/api/auth/sessions", headers=auth).get_json()["sessions"]
    assert listed["id"] == claims["sid"] and listed["current"] is True
    refreshed = client.post("/api/auth/refresh", headers=ORIGIN)
    assert refreshed.status_code == 200
    logout = client.post("/api/auth/logout", headers=ORIGIN)
    assert logout.status_code == 204 and is_cleared(set_cookies(logout)["refresh_token"])
    with app.app_context():
        assert _db.session.get(Session, claims["sid"]).revoked_at is not None
        events = [(e.event, e.details.get("method")) for e in _db.session.execute(sa.select(AuditEvent)).scalars()]
    assert ("login_succeeded", "password") in events and ("logout", None) in events


def test_a_foreign_or_missing_origin_is_refused(client):
    register(client)
    assert_error(sign_in(client, headers={"Origin": "https://evil.example"}), 403, "invalid_origin")
    assert_error(sign_in(client, headers={}), 403, "invalid_origin")


def test_wrong_password_and_unknown_email_give_the_same_answer(client, make_user):
    register(client)
    make_user(email="google-only@example.test")  # an account without a password
    answers = [sign_in(client, password="wrong password entirely"), sign_in(client, email="nobody@example.test"),
               sign_in(client, email="google-only@example.test"), sign_in(client, email="not an email")]
    for response in answers:
        assert_error(response, 401, "invalid_grant")
        assert "refresh_token" not in set_cookies(response)
    assert len({response.get_data() for response in answers}) == 1


def test_unknown_email_takes_about_as_long_as_a_wrong_password(client):
    register(client)

    def timed(email):
        started = time.perf_counter()
        sign_in(client, email=email, password="wrong password entirely")
        return time.perf_counter() - started

    known = statistics.median(timed("grace@example.test") for _ in range(5))
    unknown = statistics.median(timed("nobody@example.test") for _ in range(5))
    assert unknown > known / 3, (known, unknown)  # an Argon2 verification each


def test_failures_are_limited_per_account_whatever_the_address(make_app):
    client = make_app(PASSWORD_LOGIN="on", RATELIMIT_ENABLED="true").test_client()
    register(client)
    statuses = [client.post(LOGIN, json={"email": "grace@example.test", "password": f"wrong {n}"}, headers=ORIGIN,
                            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"}).status_code for n in range(6)]
    assert statuses == [401] * 5 + [429]
    blocked = client.post(LOGIN, json={"email": "grace@example.test", "password": GOOD}, headers=ORIGIN,
                          environ_base={"REMOTE_ADDR": "203.0.113.99"})
    assert_error(blocked, 429, "rate_limited")
    other = client.post(LOGIN, json={"email": "other@example.test", "password": "x"}, headers=ORIGIN,
                        environ_base={"REMOTE_ADDR": "203.0.113.98"})
    assert other.status_code == 401


def test_a_disabled_account_cannot_sign_in(app, client, signed_in_admin):
    register(client)
    user = user_by_email(app, "grace@example.test")
    client.patch(f"/api/admin/users/{user.id}", json={"active": False}, headers=signed_in_admin.auth)
    assert_error(sign_in(client), 403, "account_disabled")
    assert_error(sign_in(client, password="wrong password entirely"), 401, "invalid_grant")


def test_admin_emails_get_admin_at_password_sign_in(make_app):
    app = make_app(PASSWORD_LOGIN="on", ADMIN_EMAILS="boss@example.test")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "set-password", "boss@example.test"], input=f"{GOOD}\n{GOOD}\n").exit_code == 0
    client = app.test_client()
    response = sign_in(client, email="boss@example.test")
    assert response.status_code == 200
    assert "admin" in claims_of(response.get_json()["access_token"])["roles"]


def test_a_registered_address_listed_later_does_not_become_admin(make_app):
    """Nobody vouched for a registered address: putting it in ADMIN_EMAILS
    afterwards gives its registrant nothing; the operator's set-password
    (a new password, the old sessions ended) does."""
    app = make_app(PASSWORD_LOGIN="on")
    assert register(app.test_client(), email="mallory@example.test").status_code == 201
    later = make_app(PASSWORD_LOGIN="on", ADMIN_EMAILS="mallory@example.test",
                     DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    response = sign_in(later.test_client(), email="mallory@example.test")
    assert response.status_code == 200
    assert claims_of(response.get_json()["access_token"])["roles"] == ["user"]
    runner = later.test_cli_runner()
    other = "another long passphrase for the boss"
    assert runner.invoke(args=["users", "set-password", "mallory@example.test"],
                         input=f"{other}\n{other}\n").exit_code == 0
    assert_error(sign_in(later.test_client(), email="mallory@example.test"), 401, "invalid_grant")
    response = sign_in(later.test_client(), email="mallory@example.test", password=other)
    assert "admin" in claims_of(response.get_json()["access_token"])["roles"]


def test_an_email_removed_from_the_allowlist_cannot_sign_in(make_app):
    app = make_app(PASSWORD_LOGIN="on", ALLOWED_EMAILS="ok@example.test")
    client = app.test_client()
    assert register(client, email="ok@example.test").status_code == 201
    assert sign_in(client, email="ok@example.test").status_code == 200
    later = make_app(PASSWORD_LOGIN="on", ALLOWED_EMAILS="other@example.test",
                     DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    assert_error(sign_in(later.test_client(), email="ok@example.test"), 403, "not_allowed")


def test_the_password_grant_is_never_offered(client):
    register(client)
    response = client.post("/api/auth/token", data={"grant_type": "password", "username": "grace@example.test",
                                                   "password": GOOD})
    assert_error(response, 400, "unsupported_grant_type")


# -- CLI ---------------------------------------------------------------------------------


def test_set_password_prompts_twice_and_ends_existing_sessions(app, client, make_user, make_session):
    user_id = make_user(email="ann@example.test")
    who = make_session(user_id)
    runner = app.test_cli_runner()
    mismatch = runner.invoke(args=["users", "set-password", "ann@example.test"],
                             input=f"{GOOD}\nsomething else entirely\n{GOOD}\n{GOOD}\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert GOOD not in mismatch.output
    assert sign_in(client, email="ann@example.test").status_code == 200
    with app.app_context():
        assert _db.session.get(Session, who.session_id).revoked_at is not None


def test_set_password_refuses_a_weak_password_and_takes_no_argument(app):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "set-password", "ann@example.test"], input="qwerty123456\nqwerty123456\n")
    assert weak.exit_code != 0 and "commonly used" in weak.output
    on_command_line = runner.invoke(args=["users", "set-password", "ann@example.test", GOOD])
    assert on_command_line.exit_code != 0


def test_seed_demo_creates_demo_accounts_outside_production(app, client):
    result = app.test_cli_runner().invoke(args=["users", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert sign_in(client, email="demo-user@example.test", password="demo user horse battery").status_code == 200
    admin = sign_in(client, email="demo-admin@example.test", password="demo admin staple lantern")
    assert "admin" in claims_of(admin.get_json()["access_token"])["roles"]


def test_seed_demo_is_refused_in_production(app, monkeypatch):
    from dataclasses import replace

    from authgw.extension import AuthGW

    state = AuthGW.of(app)
    monkeypatch.setattr(state, "settings", replace(state.settings, app_env="production"))
    result = app.test_cli_runner().invoke(args=["users", "seed-demo"])
    assert result.exit_code != 0 and "refused when APP_ENV=production" in result.output


def test_common_password_list_comes_from_the_package():
    assert password_problem("correct horse battery staple") is None
    assert "commonly used" in password_problem("qazwsxedcrfv")

"""Refresh tokens: rotation, reuse detection, grace window, CSRF defence."""

from __future__ import annotations

import jwt
import pytest
import sqlalchemy as sa

from authgw.extensions import db as _db
from authgw.models import AuditEvent, RefreshToken, Role, Session, User

from .conftest import PUBLIC_URL
from .flows import ORIGIN, bearer, is_cleared, set_cookies


def refresh_with_cookie(client, raw: str, headers=ORIGIN):
    client.set_cookie("refresh_token", raw, path="/api/auth")
    return client.post("/api/auth/refresh", headers=headers)


def refresh_with_body(client, raw):
    return client.post("/api/auth/refresh", json={"refresh_token": raw})


def assert_invalid_grant(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_grant"
    assert "access_token" not in response.get_json()


def session_row(app, session_id) -> Session:
    with app.app_context():
        row = _db.session.get(Session, session_id)
        _db.session.expunge_all()
        return row


def test_cookie_refresh_rotates_the_refresh_cookie_and_issues_an_access_token(client, signed_in):
    response = refresh_with_cookie(client, signed_in.refresh_token)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert response.headers["Cache-Control"] == "no-store"
    cookie = set_cookies(response)["refresh_token"]
    assert cookie["value"] != signed_in.refresh_token and len(cookie["value"]) >= 43
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict" and cookie["path"] == "/api/auth"
    me = client.get("/api/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.get_json()["id"] == str(signed_in.user_id)


def test_refreshed_access_token_belongs_to_the_same_session(client, signed_in):
    token = refresh_with_body(client, signed_in.refresh_token).get_json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["sid"] == signed_in.session_id


def test_body_refresh_returns_the_new_refresh_token_in_json(client, signed_in):
    response = refresh_with_body(client, signed_in.refresh_token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["refresh_token"] != signed_in.refresh_token
    assert "refresh_token" not in set_cookies(response)
    again = refresh_with_body(client, body["refresh_token"])
    assert again.status_code == 200


def test_body_refresh_needs_no_origin(client, signed_in):
    response = client.post("/api/auth/refresh", json={"refresh_token": signed_in.refresh_token},
                           headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 200


def test_spent_refresh_token_is_refused_after_the_grace_window(clock, client, signed_in):
    new = refresh_with_body(client, signed_in.refresh_token).get_json()["refresh_token"]
    clock.advance(11)
    assert_invalid_grant(refresh_with_body(client, signed_in.refresh_token))
    assert_invalid_grant(refresh_with_body(client, new))  # the whole session died


def test_reused_refresh_token_revokes_the_session_and_its_access_tokens(clock, app, client, signed_in):
    fresh = refresh_with_body(client, signed_in.refresh_token).get_json()
    assert client.get("/api/me", headers=bearer(fresh["access_token"])).status_code == 200
    clock.advance(30)
    assert_invalid_grant(refresh_with_body(client, signed_in.refresh_token))
    assert session_row(app, signed_in.session_id).revoked_at is not None
    for token in (signed_in.access_token, fresh["access_token"]):
        response = client.get("/api/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_token"
    with app.app_context():
        events = _db.session.execute(sa.select(AuditEvent).where(AuditEvent.event == "refresh_token_reused")).scalars().all()
        assert [e.user_id for e in events] == [signed_in.user_id]
        assert [e.email for e in events] == [_db.session.get(User, signed_in.user_id).email]


def test_reuse_does_not_touch_the_users_other_sessions(clock, client, make_user, make_session):
    user = make_user()
    laptop, phone = make_session(user), make_session(user)
    refresh_with_body(client, laptop.refresh_token)
    clock.advance(11)
    assert_invalid_grant(refresh_with_body(client, laptop.refresh_token))
    assert refresh_with_body(client, phone.refresh_token).status_code == 200
    assert client.get("/api/me", headers=phone.auth).status_code == 200


def test_reused_refresh_cookie_is_cleared(clock, client, signed_in):
    refresh_with_cookie(client, signed_in.refresh_token)
    clock.advance(11)
    response = refresh_with_cookie(client, signed_in.refresh_token)
    assert_invalid_grant(response)
    assert is_cleared(set_cookies(response)["refresh_token"])


def test_just_spent_token_is_accepted_again_within_the_grace_window(clock, client, signed_in):
    """Two tabs refreshing at once: both get tokens that keep working, on one chain."""
    first = refresh_with_body(client, signed_in.refresh_token).get_json()
    clock.advance(5)
    second = refresh_with_body(client, signed_in.refresh_token)
    assert second.status_code == 200
    second = second.get_json()
    # The same successor again: the session's chain never forks.
    assert second["refresh_token"] == first["refresh_token"]
    for tab in (first, second):
        assert client.get("/api/me", headers=bearer(tab["access_token"])).status_code == 200
    clock.advance(60)  # long after the grace window, the tabs' shared successor still works
    assert refresh_with_body(client, second["refresh_token"]).status_code == 200


def test_a_late_grace_answer_gives_the_chains_live_token_not_a_spent_one(app, clock, client, signed_in):
    """A tab still holding the first token while the other already refreshed
    twice: inside the first token's grace window it gets the live token, and
    the session goes on (a spent successor would make its next refresh a reuse)."""
    first = refresh_with_body(client, signed_in.refresh_token).get_json()
    clock.advance(2)
    second = refresh_with_body(client, first["refresh_token"]).get_json()
    clock.advance(2)
    late = refresh_with_body(client, signed_in.refresh_token)
    assert late.status_code == 200
    assert late.get_json()["refresh_token"] == second["refresh_token"]
    clock.advance(20)
    assert refresh_with_body(client, late.get_json()["refresh_token"]).status_code == 200
    with app.app_context():
        assert _db.session.get(Session, signed_in.session_id).revoked_at is None


def test_grace_window_never_forks_a_session_a_stolen_token_is_reuse_once_the_chain_moved_on(
        app, clock, client, signed_in):
    """A thief replaying a stolen token inside the grace window gets no chain of its own."""
    victim = refresh_with_body(client, signed_in.refresh_token).get_json()
    clock.advance(2)
    thief = refresh_with_body(client, signed_in.refresh_token).get_json()
    assert thief["refresh_token"] == victim["refresh_token"]
    clock.advance(1)
    moved_on = refresh_with_body(client, victim["refresh_token"])
    assert moved_on.status_code == 200
    clock.advance(30)
    # The other holder of the spent token presents it after the chain moved on: reuse.
    assert_invalid_grant(refresh_with_body(client, thief["refresh_token"]))
    assert_invalid_grant(refresh_with_body(client, moved_on.get_json()["refresh_token"]))
    with app.app_context():
        assert _db.session.get(Session, signed_in.session_id).revoked_reason == "refresh_token_reuse"


def test_grace_window_is_at_most_ten_seconds(clock, client, signed_in):
    refresh_with_body(client, signed_in.refresh_token)
    clock.advance(10.5)
    assert_invalid_grant(refresh_with_body(client, signed_in.refresh_token))


def test_grace_window_is_configurable_down_to_zero(clock, make_app, make_user, make_session):
    app = make_app(REFRESH_GRACE_SECONDS="0")
    client = app.test_client()
    raw = make_session(make_user(on=app), on=app).refresh_token
    assert refresh_with_body(client, raw).status_code == 200
    clock.advance(0.01)
    assert_invalid_grant(refresh_with_body(client, raw))


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null", PUBLIC_URL + "/", "http://localhost:8081",
                                    "http://localhost", "https://localhost:8080"])
def test_cookie_refresh_without_our_origin_is_forbidden_and_spends_nothing(clock, client, signed_in, origin):
    headers = {} if origin is None else {"Origin": origin}
    response = refresh_with_cookie(client, signed_in.refresh_token, headers=headers)
    assert response.status_code == 403
    assert response.is_json and response.get_json()["error"]
    assert "refresh_token" not in set_cookies(response)
    clock.advance(11)  # had the token been spent, this would now be reuse
    assert refresh_with_cookie(client, signed_in.refresh_token).status_code == 200


def test_refresh_without_any_token_is_invalid_grant(client):
    assert_invalid_grant(client.post("/api/auth/refresh", headers=ORIGIN))


def test_unknown_refresh_token_is_invalid_grant(client, signed_in):
    assert_invalid_grant(refresh_with_body(client, signed_in.refresh_token[:-1] + "x"))
    assert_invalid_grant(refresh_with_cookie(client, "A" * 43))


@pytest.mark.parametrize("body", [
    {"refresh_token": 123}, {"refresh_token": ["a"]}, {"refresh_token": {"a": 1}}, {"refresh_token": True},
    {"refresh_token": ""}, {"refresh_token": "x" * 300}, {"refresh_token": "é" * 20}, {"refresh_token": "\x00"},
    [], "token", 42,
])
def test_malformed_refresh_body_gets_4xx_and_spends_nothing(clock, client, signed_in, body):
    response = client.post("/api/auth/refresh", json=body)
    assert 400 <= response.status_code < 500
    assert response.is_json and response.get_json()["error"]
    clock.advance(11)
    assert refresh_with_body(client, signed_in.refresh_token).status_code == 200


@pytest.mark.parametrize("data, content_type", [
    ("{not json", "application/json"),
    ("refresh_token=abc", "application/x-www-form-urlencoded"),
    ("\xff\xfe", "application/json"),
    ("x" * 70000, "application/json"),
])
def test_unparseable_refresh_body_gets_4xx(client, data, content_type):
    response = client.post("/api/auth/refresh", data=data, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert response.is_json


@pytest.mark.parametrize("raw", ["x" * 4000, "é", "a b", "' OR 1=1 --"])
def test_garbage_refresh_cookie_gets_4xx(client, raw):
    response = refresh_with_cookie(client, raw)
    assert 400 <= response.status_code < 500
    assert response.is_json


def test_expired_refresh_token_is_invalid_grant(clock, make_app, make_user, make_session):
    app = make_app(REFRESH_TOKEN_TTL="60")
    client = app.test_client()
    user = make_user(on=app)
    still_valid, expiring = make_session(user, on=app), make_session(user, on=app)
    clock.advance(59)
    assert refresh_with_body(client, still_valid.refresh_token).status_code == 200
    clock.advance(2)
    assert_invalid_grant(refresh_with_body(client, expiring.refresh_token))


def test_disabled_user_cannot_refresh(db, client, signed_in):
    db.session.get(User, signed_in.user_id).active = False
    db.session.commit()
    assert_invalid_grant(refresh_with_body(client, signed_in.refresh_token))


def test_role_change_shows_in_the_next_refreshed_token(app, client, signed_in):
    with app.app_context():
        user = _db.session.get(User, signed_in.user_id)
        user.roles.append(_db.session.execute(sa.select(Role).where(Role.name == "admin")).scalar_one())
        _db.session.commit()
    token = refresh_with_body(client, signed_in.refresh_token).get_json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "admin" in claims["roles"] and "users:write" in claims["permissions"]


def test_refresh_tokens_are_stored_only_as_hashes(db, client, signed_in):
    new = refresh_with_body(client, signed_in.refresh_token).get_json()["refresh_token"]
    stored = [row.token_hash for row in db.session.execute(sa.select(RefreshToken)).scalars()]
    assert len(stored) == 2
    for raw in (signed_in.refresh_token, new):
        assert raw not in stored
        assert all(raw not in value for value in stored)


class _Deadlock(Exception):
    """What PyMySQL raises when InnoDB breaks a deadlock: (1213, message)."""


def deadlock() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("SELECT ...", {}, _Deadlock(1213, "Deadlock found when trying to get lock"))


def test_a_refresh_chosen_as_deadlock_victim_is_run_again(monkeypatch, client, signed_in):
    """InnoDB rolls the victim back whole and asks for a restart: the refresh
    runs again (authgw.deadlocks) and spends the token once."""
    from authgw import sessions

    real, calls = sessions.read_grant, []

    def victim_once(*args):
        calls.append(1)
        if len(calls) == 1:
            raise deadlock()
        return real(*args)

    monkeypatch.setattr(sessions, "read_grant", victim_once)
    response = refresh_with_body(client, signed_in.refresh_token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(calls) == 2
    successor = response.get_json()["refresh_token"]
    monkeypatch.setattr(sessions, "read_grant", real)
    assert refresh_with_body(client, successor).status_code == 200


def test_a_refresh_deadlocked_every_time_is_a_bounded_503(monkeypatch, client, signed_in):
    from authgw import deadlocks, sessions

    calls = []

    def always(*args):
        calls.append(1)
        raise deadlock()

    monkeypatch.setattr(sessions, "read_grant", always)
    response = refresh_with_body(client, signed_in.refresh_token)
    assert response.status_code == 503 and response.get_json()["error"] == "service_unavailable"
    assert len(calls) == deadlocks.ATTEMPTS


def test_other_database_errors_are_not_retried(monkeypatch, client, signed_in):
    from authgw import sessions

    calls = []

    def lost(*args):
        calls.append(1)
        raise sa.exc.OperationalError("SELECT ...", {}, _Deadlock(2013, "Lost connection"))

    monkeypatch.setattr(sessions, "read_grant", lost)
    assert refresh_with_body(client, signed_in.refresh_token).status_code == 503
    assert len(calls) == 1

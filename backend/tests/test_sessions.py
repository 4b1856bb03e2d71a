"""Logout, logout-all, the sessions list, the gateway check and revocation."""

from __future__ import annotations

import re
import time
from datetime import datetime

import sqlalchemy as sa

from authgw.extensions import db as _db
from authgw.models import AuditEvent, Session, User

from .flows import ORIGIN, access_token_of, bearer, is_cleared, login, set_cookies

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def assert_refused(client, who):
    response = client.get("/api/me", headers=who.auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def assert_refresh_refused(client, who):
    response = client.post("/api/auth/refresh", json={"refresh_token": who.refresh_token})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_grant"


def revoked(app, session_id) -> bool:
    with app.app_context():
        return _db.session.get(Session, session_id).revoked_at is not None


# -- logout -----------------------------------------------------------------


def test_logout_with_the_refresh_cookie_revokes_the_session(app, client, signed_in):
    client.set_cookie("refresh_token", signed_in.refresh_token, path="/api/auth")
    response = client.post("/api/auth/logout", headers=ORIGIN)
    assert response.status_code == 204
    cookie = set_cookies(response)["refresh_token"]
    assert is_cleared(cookie) and cookie["path"] == "/api/auth"
    assert revoked(app, signed_in.session_id)
    assert_refused(client, signed_in)
    assert_refresh_refused(client, signed_in)


def test_logout_with_the_refresh_token_in_the_body_revokes_the_session(app, client, signed_in):
    response = client.post("/api/auth/logout", json={"refresh_token": signed_in.refresh_token})
    assert response.status_code == 204
    assert revoked(app, signed_in.session_id)
    assert_refused(client, signed_in)
    assert_refresh_refused(client, signed_in)


def test_logout_with_the_access_token_revokes_the_session(app, client, signed_in):
    response = client.post("/api/auth/logout", headers=signed_in.auth)
    assert response.status_code == 204
    assert is_cleared(set_cookies(response)["refresh_token"])
    assert revoked(app, signed_in.session_id)
    assert_refused(client, signed_in)
    assert_refresh_refused(client, signed_in)


def test_logout_revokes_only_the_current_session(client, make_user, make_session):
    user = make_user()
    laptop, phone = make_session(user), make_session(user)
    assert client.post("/api/auth/logout", headers=laptop.auth).status_code == 204
    assert_refused(client, laptop)
    assert client.get("/api/me", headers=phone.auth).status_code == 200


def test_logout_is_audited(app, client, signed_in):
    client.post("/api/auth/logout", headers=signed_in.auth)
    with app.app_context():
        [event] = _db.session.execute(sa.select(AuditEvent).where(AuditEvent.event == "logout")).scalars().all()
        assert event.user_id == signed_in.user_id
        assert event.email == _db.session.get(User, signed_in.user_id).email


def test_logout_of_a_browser_login_refuses_its_access_token(client, provider):
    callback = login(client, provider)
    token = access_token_of(callback)
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    # The refresh cookie from the callback is in the client's jar.
    assert client.post("/api/auth/logout", headers=ORIGIN).status_code == 204
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert client.post("/api/auth/refresh", headers=ORIGIN).status_code == 401


def test_logout_without_credentials_still_answers_204(client):
    response = client.post("/api/auth/logout")
    assert response.status_code == 204
    assert is_cleared(set_cookies(response)["refresh_token"])


def test_cookie_logout_from_a_foreign_origin_is_forbidden(app, client, signed_in):
    client.set_cookie("refresh_token", signed_in.refresh_token, path="/api/auth")
    response = client.post("/api/auth/logout", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert not revoked(app, signed_in.session_id)


def test_logout_with_a_garbage_token_gets_no_5xx(client):
    for kwargs in ({"json": {"refresh_token": 5}}, {"headers": {"Authorization": "Bearer garbage"}},
                   {"json": {"refresh_token": "x" * 1000}}):
        assert client.post("/api/auth/logout", **kwargs).status_code < 500


def test_logout_all_revokes_every_session_of_the_user_only(app, client, make_user, make_session):
    user, other_user = make_user(), make_user()
    laptop, phone, stranger = make_session(user), make_session(user), make_session(other_user)
    response = client.post("/api/auth/logout-all", headers=laptop.auth)
    assert response.status_code == 204
    assert is_cleared(set_cookies(response)["refresh_token"])
    for who in (laptop, phone):
        assert_refused(client, who)
        assert_refresh_refused(client, who)
    assert client.get("/api/me", headers=stranger.auth).status_code == 200


def test_logout_all_needs_an_access_token(client, signed_in):
    assert client.post("/api/auth/logout-all", json={"refresh_token": signed_in.refresh_token}).status_code == 401
    assert client.get("/api/me", headers=signed_in.auth).status_code == 200


# -- sessions ---------------------------------------------------------------


def test_sessions_lists_the_callers_live_sessions_with_the_current_one_flagged(client, make_user, make_session):
    user = make_user()
    laptop = make_session(user, user_agent="Firefox", ip="198.51.100.7")
    phone = make_session(user, user_agent="Safari", ip="2001:db8::1")
    make_session(make_user())  # someone else's
    dead = make_session(user)
    client.post("/api/auth/logout", headers=dead.auth)
    response = client.get("/api/auth/sessions", headers=laptop.auth)
    assert response.status_code == 200
    sessions = {s["id"]: s for s in response.get_json()["sessions"]}
    assert set(sessions) == {laptop.session_id, phone.session_id}
    assert sessions[laptop.session_id]["current"] is True
    assert sessions[phone.session_id]["current"] is False
    assert sessions[phone.session_id]["user_agent"] == "Safari"
    assert sessions[phone.session_id]["ip"] == "2001:db8::1"
    for entry in sessions.values():
        assert set(entry) == {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}
        for name in ("created_at", "last_used_at"):
            assert RFC3339.match(entry[name]), entry[name]
            assert datetime.fromisoformat(entry[name].replace("Z", "+00:00")).tzinfo is not None


def test_sessions_needs_an_access_token(client):
    assert client.get("/api/auth/sessions").status_code == 401


def test_deleting_an_own_session_revokes_it(app, client, make_user, make_session):
    user = make_user()
    laptop, phone = make_session(user), make_session(user)
    response = client.delete(f"/api/auth/sessions/{phone.session_id}", headers=laptop.auth)
    assert response.status_code == 204
    assert_refused(client, phone)
    assert_refresh_refused(client, phone)
    assert client.get("/api/me", headers=laptop.auth).status_code == 200


def test_deleting_another_users_session_is_404_and_changes_nothing(app, client, make_user, make_session):
    mine, theirs = make_session(make_user()), make_session(make_user())
    response = client.delete(f"/api/auth/sessions/{theirs.session_id}", headers=mine.auth)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert not revoked(app, theirs.session_id)
    assert client.get("/api/me", headers=theirs.auth).status_code == 200


def test_deleting_an_unknown_session_is_404(client, signed_in):
    for session_id in ("no-such-session", "x" * 500, "%27%20OR%201%3D1"):
        assert client.delete(f"/api/auth/sessions/{session_id}", headers=signed_in.auth).status_code == 404


# -- identity headers (the gateway sets them: tests/gateway, tests/stack) ----------


def test_client_sent_identity_headers_are_ignored(client, signed_in):
    forged = {"X-Auth-User-Id": str(signed_in.user_id), "X-Auth-Email": "admin@example.test",
              "X-Auth-Roles": "admin", "X-Auth-Permissions": "users:write"}
    response = client.get("/api/me", headers=forged)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert client.get("/api/auth/sessions", headers=forged).status_code == 401


def test_client_sent_identity_headers_do_not_change_who_the_caller_is(client, make_user, make_session):
    who = make_session(make_user(email="plain@example.test"))
    response = client.get("/api/me", headers={**who.auth, "X-Auth-User-Id": "1", "X-Auth-Roles": "admin"})
    assert response.status_code == 200
    assert response.get_json()["email"] == "plain@example.test"
    assert response.get_json()["roles"] == ["user"]


# -- revocation across workers ----------------------------------------------


def test_revocation_reaches_another_worker_within_five_seconds(app, make_app, client, signed_in):
    """A second app on the same database stands for another gunicorn worker."""
    other_worker = make_app(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"]).test_client()
    assert other_worker.get("/api/me", headers=signed_in.auth).status_code == 200
    assert client.post("/api/auth/logout", headers=signed_in.auth).status_code == 204
    started = time.monotonic()
    while other_worker.get("/api/me", headers=signed_in.auth).status_code == 200:
        assert time.monotonic() - started < 5, "revoked session still accepted by another worker after 5 s"
        time.sleep(0.1)

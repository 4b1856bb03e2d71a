"""Route guards of ``authgw.bearer``: default deny, ``@public``, ``@require_auth``
and the permission checks (all-of, any-of, both), RFC 6750 §3 answers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Blueprint, jsonify

from authgw.bearer import public, require_any_permission, require_auth, require_permission
from authgw.extensions import db as _db
from authgw.models import Role, User

from .flows import bearer

INSUFFICIENT_SCOPE = 'Bearer realm="api", error="insufficient_scope"'
INVALID_TOKEN = 'Bearer realm="api", error="invalid_token"'


def _view():
    """A fresh view answering ``{"ok": true}`` (fresh: ``@public`` marks the function object)."""
    return lambda: jsonify(ok=True)


def _guarded_blueprint() -> Blueprint:
    """Throwaway routes, one per guard."""
    bp = Blueprint("guard_probe", __name__, url_prefix="/api/probe")
    bp.add_url_rule("/undecorated", "undecorated", _view())
    bp.add_url_rule("/public", "public", public(_view()))
    bp.add_url_rule("/auth", "auth", require_auth(_view()))
    bp.add_url_rule("/all-of", "all_of", require_permission("users:read", "audit:read")(_view()))
    bp.add_url_rule("/any-of", "any_of", require_any_permission("users:read", "audit:read")(_view()))
    bp.add_url_rule("/any-of-kw", "any_of_kw", require_permission(any_of=["users:read", "audit:read"])(_view()))
    bp.add_url_rule("/combined", "combined", require_permission("users:read", any_of=["audit:read", "roles:write"])(_view()))
    return bp


@pytest.fixture
def app(make_app):
    """The standard test app plus the probe routes (registered before any request)."""
    application = make_app()
    application.register_blueprint(_guarded_blueprint())

    @application.get("/api/probe/app-level")
    def app_level():
        return jsonify(ok=True)

    return application


def assert_ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"ok": True}


def assert_insufficient_scope(response):
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith(INSUFFICIENT_SCOPE)
    body = response.get_json()
    assert body["error"] == "insufficient_scope" and body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


def assert_no_token_challenge(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.get_json()["error"] == "invalid_token"


# -- default deny and @public ----------------------------------------------------


@pytest.mark.parametrize("path", ["/api/probe/undecorated", "/api/probe/app-level"])
def test_route_without_public_needs_a_token(client, path):
    assert_no_token_challenge(client.get(path))


@pytest.mark.parametrize("path", ["/api/probe/undecorated", "/api/probe/app-level"])
def test_route_without_public_refuses_an_invalid_token(client, path):
    response = client.get(path, headers=bearer("not.a.jwt"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(INVALID_TOKEN)


@pytest.mark.parametrize("path", ["/api/probe/undecorated", "/api/probe/app-level"])
def test_route_without_public_answers_a_valid_token(client, signed_in, path):
    assert_ok(client.get(path, headers=signed_in.auth))


def test_public_route_answers_without_a_token(client):
    assert_ok(client.get("/api/probe/public"))


def test_public_route_ignores_an_invalid_token(client):
    assert_ok(client.get("/api/probe/public", headers=bearer("not.a.jwt")))


def test_route_without_public_refuses_the_token_of_a_revoked_session(client, signed_in):
    assert client.post("/api/auth/logout", headers=signed_in.auth).status_code == 204
    response = client.get("/api/probe/undecorated", headers=signed_in.auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(INVALID_TOKEN)


def test_require_auth_needs_a_valid_token_and_no_permission(client, signed_in):
    assert_no_token_challenge(client.get("/api/probe/auth"))
    assert_ok(client.get("/api/probe/auth", headers=signed_in.auth))


# -- permissions ----------------------------------------------------------------

GUARDED = ["/api/probe/all-of", "/api/probe/any-of", "/api/probe/any-of-kw", "/api/probe/combined"]


@pytest.mark.parametrize("path", GUARDED)
def test_permission_guard_without_a_token_is_401_not_403(client, path):
    assert_no_token_challenge(client.get(path))


@pytest.mark.parametrize("path", GUARDED)
def test_permission_guard_with_an_invalid_token_is_401_invalid_token(client, path):
    response = client.get(path, headers=bearer("eyJhbGciOiJub25lIn0.e30."))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(INVALID_TOKEN)


@pytest.mark.parametrize("path", GUARDED)
def test_permission_guard_refuses_a_valid_token_without_permissions_with_insufficient_scope(client, signed_in, path):
    assert_insufficient_scope(client.get(path, headers=signed_in.auth))


def test_all_of_guard_needs_every_permission(client, signed_in_with):
    assert_insufficient_scope(client.get("/api/probe/all-of", headers=signed_in_with("users:read").auth))
    assert_insufficient_scope(client.get("/api/probe/all-of", headers=signed_in_with("audit:read").auth))
    assert_ok(client.get("/api/probe/all-of", headers=signed_in_with("users:read", "audit:read").auth))


@pytest.mark.parametrize("path", ["/api/probe/any-of", "/api/probe/any-of-kw"])
def test_any_of_guard_needs_one_of_the_permissions(client, signed_in_with, path):
    assert_ok(client.get(path, headers=signed_in_with("users:read").auth))
    assert_ok(client.get(path, headers=signed_in_with("audit:read").auth))
    assert_insufficient_scope(client.get(path, headers=signed_in_with("roles:write", "users:write").auth))


def test_combined_guard_needs_all_of_and_one_of_any_of(client, signed_in_with):
    assert_ok(client.get("/api/probe/combined", headers=signed_in_with("users:read", "audit:read").auth))
    assert_ok(client.get("/api/probe/combined", headers=signed_in_with("users:read", "roles:write").auth))
    # any-of satisfied, all-of not
    assert_insufficient_scope(client.get("/api/probe/combined", headers=signed_in_with("audit:read", "roles:write").auth))
    # all-of satisfied, any-of not
    assert_insufficient_scope(client.get("/api/probe/combined", headers=signed_in_with("users:read", "users:write").auth))


def test_insufficient_scope_names_the_missing_permissions(client, signed_in_with):
    missing_any = client.get("/api/probe/combined", headers=signed_in_with("users:read").auth)
    description = missing_any.get_json()["error_description"]
    assert "audit:read or roles:write" in description and "users:read" not in description
    missing_all = client.get("/api/probe/all-of", headers=signed_in_with("users:read").auth)
    description = missing_all.get_json()["error_description"]
    assert "audit:read" in description and "users:read" not in description


def test_guard_reads_permissions_from_the_token_not_the_database(app, client, signed_in_with):
    """A role granted after the token was issued opens the route only with the next token."""
    who = signed_in_with("audit:read")
    with app.app_context():
        user = _db.session.get(User, who.user_id)
        user.roles.append(_db.session.execute(sa.select(Role).where(Role.name == "admin")).scalar_one())
        _db.session.commit()
    assert_insufficient_scope(client.get("/api/probe/all-of", headers=who.auth))


def test_require_permission_without_any_permission_is_a_programming_error():
    with pytest.raises(ValueError):
        require_permission()

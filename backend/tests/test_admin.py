"""Admin API ``/api/admin/*`` (docs/interface.md, "Authorization"): permissions per
route, user search, user changes, roles, allowed emails, audit, rate limit."""

from __future__ import annotations

import json

import jwt
import pytest
import sqlalchemy as sa

from authgw.extensions import db as _db
from authgw.models import AllowedEmail, AuditEvent, Role, User
from authgw.sessions import hash_refresh_token

from .flows import access_token_of, bearer, login
from .test_login import assert_login_error
from .test_sessions import assert_refresh_refused, assert_refused

ALL_PERMISSIONS = ["audit:read", "notes:read", "notes:write", "roles:write", "service_accounts:write", "users:read", "users:write"]


def assert_error(response, status: int, code: str, field: str | None = None):
    """Check a JSON error answer; ``field``: the input its description must name first."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code
    if field is not None:
        assert body["error_description"].startswith(field), body["error_description"]


def user_row(app, user_id) -> User:
    with app.app_context():
        user = _db.session.get(User, user_id)
        user.role_names  # load before leaving the context
        _db.session.expunge_all()
        return user


def role_permissions(app, name: str) -> list[str] | None:
    with app.app_context():
        role = _db.session.execute(sa.select(Role).where(Role.name == name)).scalar_one_or_none()
        return None if role is None else sorted(p.name for p in role.permissions)


def audit_count(app) -> int:
    with app.app_context():
        return _db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()


def claims_of(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def refreshed(client, who) -> str:
    """Refresh ``who``'s session with the JSON body; keep the new refresh token; return the access token."""
    response = client.post("/api/auth/refresh", json={"refresh_token": who.refresh_token})
    assert response.status_code == 200, response.get_data(as_text=True)
    who.refresh_token = response.get_json()["refresh_token"]
    who.access_token = response.get_json()["access_token"]
    return who.access_token


def audit(client, admin, **params) -> list[dict]:
    response = client.get("/api/admin/audit", query_string={"per_page": 100, **params}, headers=admin.auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["events"]


# -- every route needs its permission ------------------------------------------

#: What the built-in user role holds after the migrations (the notes service's permissions).
USER_ROLE_PERMISSIONS = ["notes:read", "notes:write"]


ROUTES = [
    ("GET", "/api/admin/users", None, "users:read", 200),
    ("GET", "/api/admin/users/{target}", None, "users:read", 200),
    ("PATCH", "/api/admin/users/{target}", {"active": False}, "users:write", 200),
    ("DELETE", "/api/admin/users/{target}/sessions/{session}", None, "users:write", 204),
    ("GET", "/api/admin/allowed-emails", None, "users:read", 200),
    ("POST", "/api/admin/allowed-emails", {"email": "new@example.test"}, "users:write", 201),
    ("GET", "/api/admin/roles", None, "users:read|roles:write", 200),
    ("POST", "/api/admin/roles", {"name": "support"}, "roles:write", 201),
    ("PUT", "/api/admin/roles/user/permissions", {"permissions": ["notes:read"]}, "roles:write", 200),
    ("GET", "/api/admin/audit", None, "audit:read", 200),
]
ROUTE_IDS = [f"{method} {path}" for method, path, *_ in ROUTES]


@pytest.fixture
def target(make_user, make_session):
    """``target()``: a new plain user with one live session; returns ``SignedIn``."""
    return lambda: make_session(make_user())


def call(client, who, method, path, body, target):
    headers = who.auth if who is not None else {}
    url = path.format(target=target.user_id, session=target.session_id)
    return client.open(url, method=method, json=body, headers=headers)


@pytest.mark.parametrize("method,path,body,permission,status", ROUTES, ids=ROUTE_IDS)
def test_admin_route_refuses_a_normal_user_with_403_insufficient_scope_and_changes_nothing(
        app, client, signed_in, target, method, path, body, permission, status):
    victim = target()
    response = call(client, signed_in, method, path, body, victim)
    assert_error(response, 403, "insufficient_scope")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')
    assert audit_count(app) == 0
    assert user_row(app, victim.user_id).role_names == ["user"]
    assert client.get("/api/me", headers=victim.auth).status_code == 200
    assert role_permissions(app, "user") == USER_ROLE_PERMISSIONS and role_permissions(app, "support") is None


@pytest.mark.parametrize("method,path,body,permission,status", ROUTES, ids=ROUTE_IDS)
def test_admin_route_without_a_token_is_401(client, target, method, path, body, permission, status):
    response = call(client, None, method, path, body, target())
    assert_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("method,path,body,permission,status", ROUTES, ids=ROUTE_IDS)
def test_admin_route_answers_an_admin(client, signed_in_admin, target, method, path, body, permission, status):
    response = call(client, signed_in_admin, method, path, body, target())
    assert response.status_code == status, response.get_data(as_text=True)


@pytest.mark.parametrize("method,path,body,permission,status", ROUTES, ids=ROUTE_IDS)
def test_admin_route_needs_exactly_its_named_permission(client, signed_in_with, target, method, path, body,
                                                        permission, status):
    alternatives = permission.split("|")  # "a|b": either one is enough
    everything_else = signed_in_with(*[p for p in ALL_PERMISSIONS if p not in alternatives])
    assert_error(call(client, everything_else, method, path, body, target()), 403, "insufficient_scope")
    for alternative in alternatives:
        only_this = signed_in_with(alternative)
        response = call(client, only_this, method, path, body, target())
        assert response.status_code == status, response.get_data(as_text=True)


# -- user list: search and pagination -----------------------------------------


@pytest.fixture
def people(make_user, signed_in_admin):
    """Five users besides the admin (``admin@example.test``, "Ada Admin")."""
    return {
        "alice": make_user(email="alice@example.test", name="Alice Smith"),
        "bob": make_user(email="bob@example.test", name="Bob Jones"),
        "a_b": make_user(email="a_b@example.test", name="Under Score"),
        "axb": make_user(email="axb@example.test", name="Ax B"),
        "pct": make_user(email="pct@example.test", name="100% Real"),
    }


def search(client, admin, **params) -> dict:
    response = client.get("/api/admin/users", query_string=params, headers=admin.auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def emails(body) -> list[str]:
    return [user["email"] for user in body["users"]]


def test_user_list_answers_every_user_with_total_and_paging(client, signed_in_admin, people):
    body = search(client, signed_in_admin)
    assert body["total"] == 6 and body["page"] == 1 and body["per_page"] == 20
    assert len(body["users"]) == 6
    alice = next(u for u in body["users"] if u["email"] == "alice@example.test")
    assert alice["id"] == str(people["alice"]) and alice["name"] == "Alice Smith"
    assert alice["active"] is True and alice["roles"] == ["user"] and alice["permissions"] == USER_ROLE_PERMISSIONS


@pytest.mark.parametrize("q,expected", [
    ("ALICE", ["alice@example.test"]),
    ("jones", ["bob@example.test"]),
    ("sMiTh", ["alice@example.test"]),
    ("nobody-like-this", []),
])
def test_user_search_matches_email_or_name_case_insensitively(client, signed_in_admin, people, q, expected):
    body = search(client, signed_in_admin, q=q)
    assert emails(body) == expected and body["total"] == len(expected)


@pytest.mark.parametrize("q,expected", [
    ("a_b", ["a_b@example.test"]),
    ("_", ["a_b@example.test"]),
    ("%", ["pct@example.test"]),
    ("0% r", ["pct@example.test"]),
    ("a%b", []),
    ("\\", []),
])
def test_user_search_treats_like_wildcards_literally(client, signed_in_admin, people, q, expected):
    body = search(client, signed_in_admin, q=q)
    assert emails(body) == expected and body["total"] == len(expected)


def test_user_list_pages_are_disjoint_ordered_and_keep_the_total(client, signed_in_admin, people):
    pages = [search(client, signed_in_admin, page=n, per_page=2) for n in (1, 2, 3, 4)]
    assert [len(p["users"]) for p in pages] == [2, 2, 2, 0]
    assert all(p["total"] == 6 and p["per_page"] == 2 for p in pages)
    ids = [int(u["id"]) for p in pages for u in p["users"]]
    assert ids == sorted(ids) and len(set(ids)) == 6


def test_user_search_total_counts_every_match_not_just_the_page(client, signed_in_admin, people):
    body = search(client, signed_in_admin, q="example.test", per_page=1, page=2)
    assert body["total"] == 6 and len(body["users"]) == 1


def test_user_list_accepts_the_largest_page_size(client, signed_in_admin, people):
    assert search(client, signed_in_admin, per_page=100)["per_page"] == 100


@pytest.mark.parametrize("params,field", [
    ({"page": "0"}, "page"), ({"page": "-1"}, "page"), ({"page": "two"}, "page"), ({"page": "1.5"}, "page"),
    ({"per_page": "0"}, "per_page"), ({"per_page": "101"}, "per_page"), ({"per_page": "ten"}, "per_page"),
    ({"q": "x" * 255}, "q"),
])
def test_user_list_bad_paging_or_query_is_400_naming_the_field(client, signed_in_admin, params, field):
    response = client.get("/api/admin/users", query_string=params, headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", field)


@pytest.mark.parametrize("params,field", [
    ({"page": "0"}, "page"), ({"per_page": "101"}, "per_page"), ({"event": "no_such_event"}, "event"),
    ({"user_id": "abc"}, "user_id"),
])
def test_audit_bad_filter_or_paging_is_400_naming_the_field(client, signed_in_admin, params, field):
    response = client.get("/api/admin/audit", query_string=params, headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", field)


# -- one user -------------------------------------------------------------------


def test_user_detail_lists_only_live_sessions(client, signed_in_admin, make_user, make_session):
    target = make_user()
    kept, ended = make_session(target), make_session(target)
    assert client.post("/api/auth/logout", headers=ended.auth).status_code == 204
    response = client.get(f"/api/admin/users/{target}", headers=signed_in_admin.auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(target) and body["roles"] == ["user"]
    assert [s["id"] for s in body["sessions"]] == [kept.session_id]


@pytest.mark.parametrize("method", ["GET", "PATCH"])
@pytest.mark.parametrize("bad_id", ["abc", "0", "-3", "1.5", "99999999999"])
def test_bad_user_id_is_400_naming_id(client, signed_in_admin, method, bad_id):
    response = client.open(f"/api/admin/users/{bad_id}", method=method, json={"active": True},
                           headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", "id")


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_unknown_user_id_is_404(client, signed_in_admin, method):
    response = client.open("/api/admin/users/424242", method=method, json={"active": True}, headers=signed_in_admin.auth)
    assert_error(response, 404, "not_found")


# -- PATCH a user ---------------------------------------------------------------


@pytest.mark.parametrize("body,field", [
    ({"roles": ["no-such-role"]}, "roles"),
    ({"roles": ["admin", "no-such-role"]}, "roles"),
    ({"roles": "admin"}, "roles"),
    ({"roles": [1]}, "roles"),
    ({"roles": None}, "roles"),
    ({"active": "false"}, "active"),
    ({"active": 0}, "active"),
    ({"active": None}, "active"),
    ({"email": "x@example.test"}, "email"),
    ({"roles": ["admin"], "active": "no"}, "active"),
    ({"roles": ["admin"], "name": "Eve"}, "name"),
])
def test_patch_with_a_bad_field_is_400_naming_it_and_changes_nothing(app, client, signed_in_admin, make_user,
                                                                     make_session, body, field):
    target = make_user()
    victim = make_session(target)
    events_before = audit_count(app)
    response = client.patch(f"/api/admin/users/{target}", json=body, headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", field)
    user = user_row(app, target)
    assert user.role_names == ["user"] and user.active is True
    assert audit_count(app) == events_before
    assert client.get("/api/me", headers=victim.auth).status_code == 200


@pytest.mark.parametrize("kwargs", [{"json": []}, {"json": "roles"}, {"data": "roles=admin"},
                                    {"data": "{not json", "content_type": "application/json"}])
def test_patch_body_that_is_not_a_json_object_is_400(client, signed_in_admin, make_user, kwargs):
    response = client.patch(f"/api/admin/users/{make_user()}", headers=signed_in_admin.auth, **kwargs)
    assert_error(response, 400, "invalid_request")


def test_patch_roles_replaces_the_roles_but_always_keeps_user(app, client, signed_in_admin, make_user, make_role):
    make_role("support", ["users:read"])
    target = make_user(roles=("user", "support"))
    response = client.patch(f"/api/admin/users/{target}", json={"roles": ["admin"]}, headers=signed_in_admin.auth)
    assert response.status_code == 200
    assert response.get_json()["roles"] == ["admin", "user"]
    assert response.get_json()["permissions"] == ALL_PERMISSIONS
    assert user_row(app, target).role_names == ["admin", "user"]
    response = client.patch(f"/api/admin/users/{target}", json={"roles": []}, headers=signed_in_admin.auth)
    assert response.get_json()["roles"] == ["user"]
    assert user_row(app, target).role_names == ["user"]


def test_patch_roles_is_audited_with_the_admin_as_actor(client, signed_in_admin, make_user, make_role):
    make_role("support", ["users:read"])
    target = make_user()
    client.patch(f"/api/admin/users/{target}", json={"roles": ["support"]}, headers=signed_in_admin.auth)
    client.patch(f"/api/admin/users/{target}", json={"roles": ["support", "user"]}, headers=signed_in_admin.auth)
    [event] = audit(client, signed_in_admin, event="roles_changed")
    assert event["user_id"] == str(target) and event["actor_id"] == str(signed_in_admin.user_id)
    assert event["details"]["added"] == ["support"] and event["details"]["removed"] == []


def test_admin_cannot_deactivate_themself(app, client, signed_in_admin, make_user):
    make_user(roles=("user", "admin"))  # not the last admin: the self rule decides
    response = client.patch(f"/api/admin/users/{signed_in_admin.user_id}", json={"active": False},
                            headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", "active")
    assert user_row(app, signed_in_admin.user_id).active is True
    assert client.get("/api/admin/users", headers=signed_in_admin.auth).status_code == 200


def test_the_last_admin_deactivating_themself_is_a_conflict(app, client, signed_in_admin):
    response = client.patch(f"/api/admin/users/{signed_in_admin.user_id}", json={"active": False},
                            headers=signed_in_admin.auth)
    assert_error(response, 409, "conflict", "active")
    assert "last active admin" in response.get_json()["error_description"]
    assert user_row(app, signed_in_admin.user_id).active is True


def test_refused_self_deactivation_does_not_apply_the_roles_sent_with_it(app, client, signed_in_admin, make_user):
    make_user(roles=("user", "admin"))
    response = client.patch(f"/api/admin/users/{signed_in_admin.user_id}", json={"roles": [], "active": False},
                            headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", "active")
    assert user_row(app, signed_in_admin.user_id).role_names == ["admin", "user"]
    assert audit_count(app) == 0


def test_deactivating_a_user_revokes_every_session_on_every_worker(app, make_app, client, signed_in_admin,
                                                                   make_user, make_session):
    target = make_user()
    laptop, phone = make_session(target), make_session(target)
    other_worker = make_app(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"]).test_client()
    response = client.patch(f"/api/admin/users/{target}", json={"active": False}, headers=signed_in_admin.auth)
    assert response.status_code == 200 and response.get_json()["active"] is False
    for who in (laptop, phone):
        assert_refused(client, who)
        assert_refused(other_worker, who)  # learns it from the database, not from this process
        assert_refresh_refused(client, who)
    detail = client.get(f"/api/admin/users/{target}", headers=signed_in_admin.auth).get_json()
    assert detail["active"] is False and detail["sessions"] == []
    [event] = audit(client, signed_in_admin, event="user_deactivated")
    assert event["user_id"] == str(target) and event["actor_id"] == str(signed_in_admin.user_id)
    assert event["details"]["sessions_revoked"] == 2


def test_activating_a_user_again_lets_them_sign_in_but_old_sessions_stay_revoked(app, client, signed_in_admin,
                                                                                 make_user, make_session):
    target = make_user()
    old = make_session(target)
    client.patch(f"/api/admin/users/{target}", json={"active": False}, headers=signed_in_admin.auth)
    response = client.patch(f"/api/admin/users/{target}", json={"active": True}, headers=signed_in_admin.auth)
    assert response.status_code == 200 and response.get_json()["active"] is True
    assert user_row(app, target).active is True
    assert_refresh_refused(client, old)
    fresh = make_session(target)
    assert client.get("/api/me", headers=fresh.auth).status_code == 200
    [event] = audit(client, signed_in_admin, event="user_activated")
    assert event["user_id"] == str(target) and event["actor_id"] == str(signed_in_admin.user_id)


def test_admin_revokes_one_session_of_a_user_and_only_that_one(client, signed_in_admin, make_user, make_session):
    user = make_user()
    lost_phone, laptop = make_session(user), make_session(user)
    response = client.delete(f"/api/admin/users/{user}/sessions/{lost_phone.session_id}", headers=signed_in_admin.auth)
    assert response.status_code == 204
    assert_refused(client, lost_phone)
    assert_refresh_refused(client, lost_phone)
    assert client.get("/api/me", headers=laptop.auth).status_code == 200
    [event] = audit(client, signed_in_admin, event="session_revoked")
    assert event["user_id"] == str(user) and event["actor_id"] == str(signed_in_admin.user_id)


def test_admin_session_revocation_of_a_session_not_of_that_user_is_404(client, signed_in_admin, make_user,
                                                                       make_session):
    owner, other = make_user(), make_user()
    session = make_session(owner)
    for path in (f"/api/admin/users/{other}/sessions/{session.session_id}", f"/api/admin/users/{owner}/sessions/nope"):
        assert_error(client.delete(path, headers=signed_in_admin.auth), 404, "not_found")
    assert client.get("/api/me", headers=session.auth).status_code == 200


def test_deactivated_account_cannot_sign_in_until_activated(app, provider, signed_in_admin):
    browser, admin_client = app.test_client(), app.test_client()
    assert access_token_of(login(browser, provider, email="carol@example.test"))
    with app.app_context():
        carol = _db.session.execute(sa.select(User.id).where(User.email == "carol@example.test")).scalar_one()
    admin_client.patch(f"/api/admin/users/{carol}", json={"active": False}, headers=signed_in_admin.auth)
    assert_login_error(login(browser, provider, email="carol@example.test"), "account_disabled")
    admin_client.patch(f"/api/admin/users/{carol}", json={"active": True}, headers=signed_in_admin.auth)
    assert access_token_of(login(browser, provider, email="carol@example.test"))


# -- roles ----------------------------------------------------------------------


def test_role_is_created_with_its_permissions_and_listed(app, client, signed_in_admin):
    response = client.post("/api/admin/roles", json={"name": "support", "description": "Help desk",
                                                     "permissions": ["users:read", "audit:read"]},
                           headers=signed_in_admin.auth)
    assert response.status_code == 201
    assert response.get_json() == {"name": "support", "description": "Help desk",
                                   "permissions": ["audit:read", "users:read"], "builtin": False}
    assert role_permissions(app, "support") == ["audit:read", "users:read"]
    listing = client.get("/api/admin/roles", headers=signed_in_admin.auth).get_json()
    assert [r["name"] for r in listing["roles"]] == ["admin", "support", "user"]
    assert [p["name"] for p in listing["permissions"]] == ALL_PERMISSIONS
    assert {r["name"]: r["builtin"] for r in listing["roles"]} == {"admin": True, "support": False, "user": True}


@pytest.mark.parametrize("name", ["support", "admin", "user"])
def test_duplicate_role_name_is_409_naming_name(app, client, signed_in_admin, make_role, name):
    make_role("support", ["audit:read"])
    before = role_permissions(app, name)
    response = client.post("/api/admin/roles", json={"name": name, "permissions": ["users:write"]},
                           headers=signed_in_admin.auth)
    assert_error(response, 409, "conflict", "name")
    assert role_permissions(app, name) == before


@pytest.mark.parametrize("name", ["", "Support", "1st-line", "help desk", "a" * 65, "users:read", "é", 5, None, ["x"]])
def test_invalid_role_name_is_400_naming_name(app, client, signed_in_admin, name):
    response = client.post("/api/admin/roles", json={"name": name}, headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", "name")
    assert audit_count(app) == 0


@pytest.mark.parametrize("name", ["a", "help-desk_2", "b" * 64])
def test_valid_role_names_are_accepted(client, signed_in_admin, name):
    response = client.post("/api/admin/roles", json={"name": name}, headers=signed_in_admin.auth)
    assert response.status_code == 201 and response.get_json()["permissions"] == []


@pytest.mark.parametrize("body,field", [
    ({"name": "support", "permissions": ["users:delete"]}, "permissions"),
    ({"name": "support", "permissions": "users:read"}, "permissions"),
    ({"name": "support", "permissions": [7]}, "permissions"),
    ({"name": "support", "description": 5}, "description"),
    ({"name": "support", "description": "x" * 256}, "description"),
])
def test_create_role_with_bad_fields_is_400_and_creates_nothing(app, client, signed_in_admin, body, field):
    response = client.post("/api/admin/roles", json=body, headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", field)
    assert role_permissions(app, "support") is None


def test_put_permissions_replaces_them_and_accepts_a_bare_array(app, client, signed_in_admin, make_role):
    make_role("support", ["users:read"])
    response = client.put("/api/admin/roles/support/permissions", json={"permissions": ["audit:read"]},
                          headers=signed_in_admin.auth)
    assert response.status_code == 200 and response.get_json()["permissions"] == ["audit:read"]
    assert role_permissions(app, "support") == ["audit:read"]
    response = client.put("/api/admin/roles/support/permissions", json=["users:read", "users:write"],
                          headers=signed_in_admin.auth)
    assert response.status_code == 200
    assert role_permissions(app, "support") == ["users:read", "users:write"]


@pytest.mark.parametrize("body", [{"permissions": ["users:read", "nope:nope"]}, {"permissions": "audit:read"},
                                  {}, {"permissions": None}])
def test_put_bad_permissions_is_400_and_keeps_the_old_ones(app, client, signed_in_admin, make_role, body):
    make_role("support", ["users:read"])
    response = client.put("/api/admin/roles/support/permissions", json=body, headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", "permissions")
    assert role_permissions(app, "support") == ["users:read"]


def test_put_permissions_of_an_unknown_role_is_404(client, signed_in_admin):
    response = client.put("/api/admin/roles/ghost/permissions", json={"permissions": []}, headers=signed_in_admin.auth)
    assert_error(response, 404, "not_found")


def test_admin_role_must_keep_roles_write(app, client, signed_in_admin):
    response = client.put("/api/admin/roles/admin/permissions", json={"permissions": ["users:read", "users:write"]},
                          headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", "permissions")
    assert role_permissions(app, "admin") == ALL_PERMISSIONS
    response = client.put("/api/admin/roles/admin/permissions", json={"permissions": ["roles:write"]},
                          headers=signed_in_admin.auth)
    assert response.status_code == 200 and role_permissions(app, "admin") == ["roles:write"]


def test_role_change_shows_in_the_next_refreshed_token(client, signed_in_admin, signed_in, make_role):
    make_role("support", ["users:read"])
    assert claims_of(signed_in.access_token)["permissions"] == USER_ROLE_PERMISSIONS
    assert client.patch(f"/api/admin/users/{signed_in.user_id}", json={"roles": ["support"]},
                        headers=signed_in_admin.auth).status_code == 200
    # The token already issued keeps what it was issued with.
    assert_error(client.get("/api/admin/users", headers=signed_in.auth), 403, "insufficient_scope")
    claims = claims_of(refreshed(client, signed_in))
    assert claims["roles"] == ["support", "user"] and claims["permissions"] == [*USER_ROLE_PERMISSIONS, "users:read"]
    assert client.get("/api/admin/users", headers=signed_in.auth).status_code == 200


def test_role_permission_change_shows_in_the_next_refreshed_token(client, signed_in_admin, make_user, make_session,
                                                                  make_role):
    make_role("support", ["users:read"])
    member = make_session(make_user(roles=("user", "support")))
    assert client.put("/api/admin/roles/support/permissions", json={"permissions": ["audit:read"]},
                      headers=signed_in_admin.auth).status_code == 200
    assert claims_of(member.access_token)["permissions"] == [*USER_ROLE_PERMISSIONS, "users:read"]
    assert claims_of(refreshed(client, member))["permissions"] == ["audit:read", *USER_ROLE_PERMISSIONS]
    assert_error(client.get("/api/admin/users", headers=member.auth), 403, "insufficient_scope")
    assert client.get("/api/admin/audit", headers=member.auth).status_code == 200


def test_removed_role_is_gone_from_the_next_refreshed_token(client, signed_in_admin, make_user, make_session):
    other_admin = make_session(make_user(roles=("user", "admin")))
    client.patch(f"/api/admin/users/{other_admin.user_id}", json={"roles": []}, headers=signed_in_admin.auth)
    claims = claims_of(refreshed(client, other_admin))
    assert claims["roles"] == ["user"] and claims["permissions"] == USER_ROLE_PERMISSIONS
    assert_error(client.get("/api/admin/users", headers=other_admin.auth), 403, "insufficient_scope")


# -- allowed emails -------------------------------------------------------------


@pytest.mark.parametrize("email", ["not-an-email", "", "a@b", "two@@example.test", "with space@example.test",
                                   "@example.test", 5, None, ["a@example.test"]])
def test_allowing_a_bad_email_is_400_naming_email(app, client, signed_in_admin, email):
    response = client.post("/api/admin/allowed-emails", json={"email": email}, headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request", "email")
    with app.app_context():
        assert _db.session.execute(sa.select(AllowedEmail)).first() is None


@pytest.mark.parametrize("body", [["a@example.test"], "a@example.test"])
def test_allowing_an_email_needs_a_json_object(client, signed_in_admin, body):
    response = client.post("/api/admin/allowed-emails", json=body, headers=signed_in_admin.auth)
    assert_error(response, 400, "invalid_request")


def test_allowed_email_is_listed_lower_case_and_audited(client, signed_in_admin):
    response = client.post("/api/admin/allowed-emails", json={"email": " Dave@Example.TEST "}, headers=signed_in_admin.auth)
    assert response.status_code == 201 and response.get_json()["email"] == "dave@example.test"
    listing = client.get("/api/admin/allowed-emails", headers=signed_in_admin.auth).get_json()
    assert [row["email"] for row in listing["allowed_emails"]] == ["dave@example.test"]
    [event] = audit(client, signed_in_admin, event="email_allowed")
    assert event["email"] == "dave@example.test" and event["actor_id"] == str(signed_in_admin.user_id)


def test_email_allowed_by_an_admin_can_sign_in_under_an_allowlist(make_app, provider, make_user, make_session):
    app = make_app(ALLOWED_EMAILS="bob@example.test")
    admin = make_session(make_user(roles=("user", "admin"), on=app), on=app)
    browser, admin_client = app.test_client(), app.test_client()
    assert_login_error(login(browser, provider, email="dave@example.test"), "not_allowed")
    response = admin_client.post("/api/admin/allowed-emails", json={"email": "Dave@Example.test"}, headers=admin.auth)
    assert response.status_code == 201
    token = access_token_of(login(browser, provider, email="dave@example.test"))
    assert browser.get("/api/me", headers=bearer(token)).get_json()["email"] == "dave@example.test"
    assert_login_error(login(browser, provider, email="eve@example.test"), "not_allowed")


# -- audit ----------------------------------------------------------------------


@pytest.fixture
def admin_history(client, signed_in_admin, make_user):
    """Run one of each admin operation; return the ids involved."""
    target, bystander = make_user(), make_user()
    auth = signed_in_admin.auth
    for method, path, body in [
        ("POST", "/api/admin/roles", {"name": "support", "permissions": ["users:read"]}),
        ("PUT", "/api/admin/roles/support/permissions", {"permissions": ["audit:read"]}),
        ("PATCH", f"/api/admin/users/{target}", {"roles": ["support"]}),
        ("PATCH", f"/api/admin/users/{bystander}", {"roles": ["support"]}),
        ("PATCH", f"/api/admin/users/{target}", {"active": False}),
        ("PATCH", f"/api/admin/users/{target}", {"active": True}),
        ("POST", "/api/admin/allowed-emails", {"email": "dave@example.test"}),
    ]:
        response = client.open(path, method=method, json=body, headers=auth)
        assert response.status_code < 300, response.get_data(as_text=True)
    return {"admin": signed_in_admin.user_id, "target": target, "bystander": bystander}


def test_every_admin_change_is_audited_with_the_admin_as_actor(client, signed_in_admin, admin_history):
    events = audit(client, signed_in_admin)
    assert [e["event"] for e in reversed(events)] == [
        "role_created", "role_permissions_changed", "roles_changed", "roles_changed",
        "user_deactivated", "user_activated", "email_allowed"]
    assert all(e["actor_id"] == str(admin_history["admin"]) for e in events)
    by_event = {e["event"]: e for e in events}
    assert by_event["role_created"]["details"] == {"role": "support", "permissions": ["users:read"]}
    assert by_event["role_permissions_changed"]["details"] == {"role": "support", "added": ["audit:read"],
                                                               "removed": ["users:read"]}
    assert by_event["user_deactivated"]["user_id"] == str(admin_history["target"])


def test_audit_is_newest_first(client, signed_in_admin, admin_history):
    events = audit(client, signed_in_admin)
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    assert [e["created_at"] for e in events] == sorted((e["created_at"] for e in events), reverse=True)
    assert events[0]["event"] == "email_allowed"


def test_audit_filters_by_user_id(client, signed_in_admin, admin_history):
    events = audit(client, signed_in_admin, user_id=admin_history["target"])
    assert [e["event"] for e in events] == ["user_activated", "user_deactivated", "roles_changed"]
    assert all(e["user_id"] == str(admin_history["target"]) for e in events)


def test_audit_filters_by_event(client, signed_in_admin, admin_history):
    events = audit(client, signed_in_admin, event="roles_changed")
    assert {e["user_id"] for e in events} == {str(admin_history["target"]), str(admin_history["bystander"])}
    assert all(e["event"] == "roles_changed" for e in events)
    both = audit(client, signed_in_admin, event="roles_changed", user_id=admin_history["bystander"])
    assert [e["user_id"] for e in both] == [str(admin_history["bystander"])]


def test_audit_pages_keep_the_total(client, signed_in_admin, admin_history):
    response = client.get("/api/admin/audit", query_string={"per_page": 3, "page": 3}, headers=signed_in_admin.auth)
    body = response.get_json()
    assert body["total"] == 7 and len(body["events"]) == 1 and body["events"][0]["event"] == "role_created"


def test_audit_rows_never_contain_a_token(app, client, provider, signed_in_admin, clock):
    browser = app.test_client()
    access = access_token_of(login(browser, provider, email="frank@example.test"))
    cookie = browser.get_cookie("refresh_token", path="/api/auth").value
    tokens = [access, cookie, signed_in_admin.access_token, signed_in_admin.refresh_token]
    with app.app_context():
        frank = _db.session.execute(sa.select(User.id).where(User.email == "frank@example.test")).scalar_one()
    # Rotate with the body, then reuse the spent token: a refresh_token_reused event.
    rotated = client.post("/api/auth/refresh", json={"refresh_token": cookie}).get_json()
    tokens += [rotated["access_token"], rotated["refresh_token"]]
    clock.advance(60)
    assert client.post("/api/auth/refresh", json={"refresh_token": cookie}).status_code == 401
    client.patch(f"/api/admin/users/{frank}", json={"roles": ["admin"]}, headers=signed_in_admin.auth)
    client.patch(f"/api/admin/users/{frank}", json={"active": False}, headers=signed_in_admin.auth)
    client.post("/api/auth/logout", headers=signed_in_admin.auth)
    with app.app_context():
        rows = _db.session.execute(sa.select(AuditEvent)).scalars().all()
        serialized = json.dumps([{c.name: getattr(row, c.name) for c in AuditEvent.__table__.columns} for row in rows],
                                default=str)
    assert {"login_succeeded", "refresh_token_reused", "roles_changed", "user_deactivated", "logout"} <= {
        row.event for row in rows}
    for token in tokens:
        for form in (token, hash_refresh_token(token)):
            assert form not in serialized
        for part in token.split("."):  # no JWT segment either (e.g. the signature alone)
            assert len(part) < 16 or part not in serialized


# -- rate limit -----------------------------------------------------------------


def test_admin_writes_are_rate_limited_with_retry_after(make_app, make_user, make_session):
    app = make_app(RATELIMIT_ENABLED="true", RATELIMIT_ADMIN_WRITE="2 per minute", RATELIMIT_STORAGE_URI="memory://")
    admin = make_session(make_user(roles=("user", "admin"), on=app), on=app)
    target = make_user(on=app)
    client = app.test_client()
    for roles in (["admin"], []):
        assert client.patch(f"/api/admin/users/{target}", json={"roles": roles}, headers=admin.auth).status_code == 200
    response = client.patch(f"/api/admin/users/{target}", json={"roles": ["admin"]}, headers=admin.auth)
    assert_error(response, 429, "rate_limited")
    # Rounded up so a client that waits that long is not refused again.
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    assert user_row(app, target).role_names == ["user"]  # the refused write changed nothing
    # Reads are not write-limited.
    for _ in range(5):
        assert client.get("/api/admin/users", headers=admin.auth).status_code == 200

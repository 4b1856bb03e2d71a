"""Authorization hardening (docs/authorization.md "No escalation", "Removing a
privilege", "The last admin"): each test here failed on the code before the rule."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from authgw.extensions import db as _db
from authgw.models import AuditEvent, Session

from .test_admin import ALL_PERMISSIONS, assert_error, claims_of, refreshed, role_permissions, user_row


def escalations(app) -> list[AuditEvent]:
    with app.app_context():
        rows = _db.session.execute(sa.select(AuditEvent).where(AuditEvent.event == "escalation_refused")).scalars()
        rows = list(rows)
        _db.session.expunge_all()
        return rows


def refused_within_five_seconds(client, who) -> None:
    """``who``'s current access token is refused (401 invalid_token) within 5 s."""
    started = time.monotonic()
    while client.get("/api/me", headers=who.auth).status_code == 200:
        assert time.monotonic() - started < 5, "token still accepted 5 s after the privilege was removed"
        time.sleep(0.1)
    assert_error(client.get("/api/me", headers=who.auth), 401, "invalid_token")


# -- 1. an admin operation never hands out more than its caller holds -------------


def test_user_manager_cannot_make_itself_admin(app, client, signed_in_with):
    support = signed_in_with("users:read", "users:write")
    response = client.patch(f"/api/admin/users/{support.user_id}", json={"roles": ["admin"]}, headers=support.auth)
    assert_error(response, 403, "insufficient_scope")
    assert "roles:write" in response.get_json()["error_description"]
    assert "admin" not in user_row(app, support.user_id).role_names
    [event] = escalations(app)
    assert event.actor_id == support.user_id and event.details["operation"] == "set_roles"


def test_user_manager_cannot_deactivate_or_change_an_account_holding_more(app, client, signed_in_with,
                                                                          signed_in_admin, make_user):
    support = signed_in_with("users:read", "users:write")
    for body in ({"active": False}, {"roles": ["user"]}):
        response = client.patch(f"/api/admin/users/{signed_in_admin.user_id}", json=body, headers=support.auth)
        assert_error(response, 403, "insufficient_scope")
    admin_row = user_row(app, signed_in_admin.user_id)
    assert admin_row.active is True and "admin" in admin_row.role_names
    assert client.get("/api/me", headers=signed_in_admin.auth).status_code == 200
    assert len(escalations(app)) == 2


def test_user_manager_may_still_manage_accounts_holding_no_more_than_it(app, client, signed_in_with, make_user):
    support = signed_in_with("users:read", "users:write")
    plain = make_user()
    response = client.patch(f"/api/admin/users/{plain}", json={"active": False}, headers=support.auth)
    assert response.status_code == 200 and response.get_json()["active"] is False


def test_role_manager_cannot_add_permissions_it_lacks_to_a_role(app, client, signed_in_with):
    roles_only = signed_in_with("roles:write")
    response = client.put("/api/admin/roles/user/permissions",
                          json={"permissions": ["notes:read", "notes:write", "users:write", "roles:write"]},
                          headers=roles_only.auth)
    assert_error(response, 403, "insufficient_scope")
    assert role_permissions(app, "user") == ["notes:read", "notes:write"]


def test_role_manager_cannot_create_a_role_granting_more_than_it_holds(app, client, signed_in_with):
    roles_only = signed_in_with("roles:write")
    response = client.post("/api/admin/roles", json={"name": "backdoor", "permissions": ["users:write"]},
                           headers=roles_only.auth)
    assert_error(response, 403, "insufficient_scope")
    assert role_permissions(app, "backdoor") is None


def test_a_holder_of_every_permission_can_do_everything(app, client, signed_in_with, make_user):
    everything = signed_in_with(*ALL_PERMISSIONS)
    target = make_user()
    assert client.patch(f"/api/admin/users/{target}", json={"roles": ["admin"]},
                        headers=everything.auth).status_code == 200
    assert client.post("/api/admin/roles", json={"name": "ops", "permissions": ALL_PERMISSIONS},
                       headers=everything.auth).status_code == 201


def test_a_user_manager_can_list_the_roles_it_may_grant(client, signed_in_with):
    support = signed_in_with("users:read", "users:write")
    response = client.get("/api/admin/roles", headers=support.auth)
    assert response.status_code == 200
    assert {role["name"] for role in response.get_json()["roles"]} >= {"user", "admin"}


# -- 2. removing a privilege bites within 5 s -------------------------------------


def test_removing_a_role_refuses_older_tokens_within_five_seconds_and_the_session_stays(
        app, client, signed_in_admin, make_user, make_session):
    demoted = make_session(make_user(roles=("user", "admin")))
    assert client.get("/api/admin/users", headers=demoted.auth).status_code == 200
    assert client.patch(f"/api/admin/users/{demoted.user_id}", json={"roles": []},
                        headers=signed_in_admin.auth).status_code == 200
    refused_within_five_seconds(client, demoted)
    # The session is open: a refresh gives a token without the role, which works.
    fresh = refreshed(client, demoted)
    assert claims_of(fresh)["roles"] == ["user"]
    assert client.get("/api/me", headers=demoted.auth).status_code == 200
    assert_error(client.get("/api/admin/users", headers=demoted.auth), 403, "insufficient_scope")
    with app.app_context():
        assert _db.session.get(Session, demoted.session_id).revoked_at is None
    # Other users' tokens are untouched.
    assert client.get("/api/me", headers=signed_in_admin.auth).status_code == 200


def test_removing_a_permission_from_a_role_refuses_its_members_older_tokens(
        app, client, signed_in_admin, make_role, make_user, make_session):
    make_role("support", ["users:read", "audit:read"])
    member = make_session(make_user(roles=("user", "support")))
    outsider = make_session(make_user())
    assert client.put("/api/admin/roles/support/permissions", json={"permissions": ["audit:read"]},
                      headers=signed_in_admin.auth).status_code == 200
    refused_within_five_seconds(client, member)
    assert claims_of(refreshed(client, member))["permissions"] == ["audit:read", "notes:read", "notes:write"]
    assert client.get("/api/me", headers=member.auth).status_code == 200
    assert client.get("/api/me", headers=outsider.auth).status_code == 200


def start_of_a_second() -> None:
    """Wait until the clock is early in a second: cutoffs are whole seconds,
    and what follows must happen within one."""
    while time.time() % 1 > 0.3:
        time.sleep(0.02)


def test_a_second_permission_removal_within_one_second_refuses_the_tokens_minted_between(
        client, signed_in_admin, make_role, make_user, make_session):
    make_role("support", ["users:read", "audit:read"])
    member = make_session(make_user(roles=("user", "support")))
    put = lambda permissions: client.put("/api/admin/roles/support/permissions",  # noqa: E731
                                         json={"permissions": permissions}, headers=signed_in_admin.auth)
    start_of_a_second()
    assert put(["audit:read"]).status_code == 200
    assert put(["users:read", "audit:read"]).status_code == 200
    between = refreshed(client, member)  # its iat is raised to the first cutoff
    assert "users:read" in claims_of(between)["permissions"]
    assert put(["audit:read"]).status_code == 200
    assert time.time() % 1 < 0.9, "the steps took too long to share one second"
    refused_within_five_seconds(client, member)
    assert "users:read" not in claims_of(refreshed(client, member))["permissions"]
    assert client.get("/api/me", headers=member.auth).status_code == 200


def test_a_second_role_removal_within_one_second_refuses_the_tokens_minted_between(
        client, signed_in_admin, make_role, make_user, make_session):
    make_role("support", ["users:read"])
    member = make_session(make_user(roles=("user", "support")))
    patch = lambda roles: client.patch(f"/api/admin/users/{member.user_id}", json={"roles": roles},  # noqa: E731
                                       headers=signed_in_admin.auth)
    start_of_a_second()
    assert patch([]).status_code == 200
    assert patch(["support"]).status_code == 200
    between = refreshed(client, member)
    assert "support" in claims_of(between)["roles"]
    assert patch([]).status_code == 200
    assert time.time() % 1 < 0.9, "the steps took too long to share one second"
    refused_within_five_seconds(client, member)
    assert claims_of(refreshed(client, member))["roles"] == ["user"]
    assert client.get("/api/me", headers=member.auth).status_code == 200


def test_adding_a_privilege_does_not_refuse_existing_tokens(app, client, signed_in_admin, make_role, make_user,
                                                           make_session):
    make_role("support", ["users:read"])
    member = make_session(make_user(roles=("user", "support")))
    assert client.put("/api/admin/roles/support/permissions", json={"permissions": ["users:read", "audit:read"]},
                      headers=signed_in_admin.auth).status_code == 200
    time.sleep(1.5)  # more than one feed poll
    assert client.get("/api/me", headers=member.auth).status_code == 200


def test_the_revocation_snapshot_carries_the_cutoffs(app, client, signed_in_admin, make_user, make_session):
    demoted = make_user(roles=("user", "admin"))
    client.patch(f"/api/admin/users/{demoted}", json={"roles": []}, headers=signed_in_admin.auth)
    snapshot = client.get("/api/internal/revocations").get_json()
    assert snapshot["subjects"][str(demoted)] >= int(time.time()) - 1


# -- 3. the last admin -------------------------------------------------------------


def test_the_last_admin_cannot_drop_its_own_admin_role(app, client, signed_in_admin):
    response = client.patch(f"/api/admin/users/{signed_in_admin.user_id}", json={"roles": []},
                            headers=signed_in_admin.auth)
    assert_error(response, 409, "conflict")
    assert "admin" in user_row(app, signed_in_admin.user_id).role_names


def test_the_last_admin_cannot_be_deactivated_even_by_a_holder_of_every_permission(
        app, client, signed_in_admin, signed_in_with):
    everything = signed_in_with(*ALL_PERMISSIONS)
    response = client.patch(f"/api/admin/users/{signed_in_admin.user_id}", json={"active": False},
                            headers=everything.auth)
    assert_error(response, 409, "conflict")
    assert user_row(app, signed_in_admin.user_id).active is True


@pytest.mark.parametrize("body", [{"roles": []}, {"active": False}])
def test_an_admin_who_is_not_the_last_can_lose_admin(app, client, signed_in_admin, make_user, body):
    other = make_user(roles=("user", "admin"))
    assert client.patch(f"/api/admin/users/{other}", json=body, headers=signed_in_admin.auth).status_code == 200

"""Operator commands: ``flask users ...``, ``flask roles ...``, ``flask
wait-for-db`` and ``flask purge`` (docs/interface.md: "The same operations exist as
``flask`` CLI commands for bootstrapping")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from authgw.extensions import db as _db
from authgw.models import AllowedEmail, RefreshToken, Role, Session, User

from .conftest import FakeProvider, base_env
from .test_login import audit_events
from .test_sessions import assert_refresh_refused, assert_refused


@pytest.fixture
def flask_cli(app):
    """``flask_cli("users", "list")``: run a ``flask`` command of ``app``; returns click's Result."""
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=list(args))

    return invoke


def assert_ok(result, *expected_lines):
    assert result.exit_code == 0, (result.output, result.exception)
    for line in expected_lines:
        assert line in result.output, result.output


def assert_fails(result, message):
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert message in result.output, result.output


def roles_of(app, user_id) -> list[str]:
    with app.app_context():
        return _db.session.get(User, user_id).role_names


def is_active(app, user_id) -> bool:
    with app.app_context():
        return _db.session.get(User, user_id).active


def role_permissions(app, name) -> list[str] | None:
    with app.app_context():
        role = _db.session.execute(sa.select(Role).where(Role.name == name)).scalar_one_or_none()
        return None if role is None else sorted(p.name for p in role.permissions)


# -- flask users ---------------------------------------------------------------


def test_users_list_prints_every_user_with_status_and_roles(flask_cli, make_user):
    make_user(email="alice@example.test", roles=("user", "admin"))
    make_user(email="bob@example.test", active=False)
    result = flask_cli("users", "list")
    assert_ok(result, "2 user(s)")
    alice = next(line for line in result.output.splitlines() if "alice@example.test" in line)
    bob = next(line for line in result.output.splitlines() if "bob@example.test" in line)
    assert "active" in alice and alice.rstrip().endswith("admin,user")
    assert "DISABLED" in bob


def test_users_list_filters_by_query(flask_cli, make_user):
    make_user(email="alice@example.test")
    make_user(email="bob@example.test", name="Robert")
    result = flask_cli("users", "list", "-q", "ROBERT")
    assert_ok(result, "bob@example.test", "1 user(s)")
    assert "alice" not in result.output


def test_users_list_with_a_bad_page_size_fails_clearly(flask_cli):
    assert_fails(flask_cli("users", "list", "--per-page", "1000"), "per_page must be between 1 and 100")


@pytest.mark.parametrize("identify", ["email", "id"])
def test_users_grant_adds_the_role_and_is_audited_without_actor(app, flask_cli, make_user, identify):
    user = make_user(email="alice@example.test")
    who = "alice@example.test" if identify == "email" else str(user)
    assert_ok(flask_cli("users", "grant", who, "admin"), f"granted admin to {who}")
    assert roles_of(app, user) == ["admin", "user"]
    [event] = audit_events(app, "roles_changed")
    assert event.user_id == user and event.actor_id is None and event.details["added"] == ["admin"]


def test_users_grant_of_a_role_already_held_changes_nothing(app, flask_cli, make_user):
    make_user(email="alice@example.test", roles=("user", "admin"))
    assert_ok(flask_cli("users", "grant", "alice@example.test", "admin"), "already has admin")
    assert audit_events(app) == []


def test_users_revoke_removes_the_role_and_is_audited(app, flask_cli, make_user):
    user = make_user(email="alice@example.test", roles=("user", "admin"))
    make_user(email="bob@example.test", roles=("user", "admin"))  # not the last admin
    assert_ok(flask_cli("users", "revoke", "alice@example.test", "admin"), "revoked admin from alice@example.test")
    assert roles_of(app, user) == ["user"]
    [event] = audit_events(app, "roles_changed")
    assert event.details["removed"] == ["admin"]
    assert_ok(flask_cli("users", "revoke", "alice@example.test", "admin"), "did not have admin")


def test_users_revoke_refuses_to_take_admin_from_the_last_active_admin(app, flask_cli, make_user):
    user = make_user(email="alice@example.test", roles=("user", "admin"))
    result = flask_cli("users", "revoke", "alice@example.test", "admin")
    assert result.exit_code != 0 and "last active admin" in result.output
    assert roles_of(app, user) == ["admin", "user"]


@pytest.mark.parametrize("args,message", [
    (("users", "grant", "nobody@example.test", "admin"), "No user with email nobody@example.test"),
    (("users", "grant", "4242", "admin"), "No user with id 4242"),
    (("users", "grant", "alice@example.test", "wizard"), "unknown role wizard"),
    (("users", "revoke", "alice@example.test", "wizard"), "unknown role wizard"),
    (("users", "revoke", "alice@example.test", "user"), "every account keeps the user role"),
    (("users", "revoke", "nobody@example.test", "admin"), "No user with email nobody@example.test"),
    (("users", "deactivate", "nobody@example.test"), "No user with email nobody@example.test"),
    (("users", "activate", "4242"), "No user with id 4242"),
    (("users", "allow", "not-an-email"), "email must be an email address"),
])
def test_users_command_errors_exit_non_zero_with_a_message_and_change_nothing(app, flask_cli, make_user, args,
                                                                             message):
    alice = make_user(email="alice@example.test", roles=("user", "admin"))
    assert_fails(flask_cli(*args), message)
    assert roles_of(app, alice) == ["admin", "user"] and is_active(app, alice)
    assert audit_events(app) == []
    with app.app_context():
        assert _db.session.execute(sa.select(AllowedEmail)).first() is None


def test_users_deactivate_disables_the_account_and_revokes_its_sessions(app, client, flask_cli, make_user,
                                                                       make_session):
    user = make_user(email="alice@example.test")
    laptop, phone = make_session(user), make_session(user)
    assert_ok(flask_cli("users", "deactivate", "alice@example.test"), "deactivated alice@example.test")
    assert not is_active(app, user)
    for who in (laptop, phone):
        assert_refused(client, who)
        assert_refresh_refused(client, who)
    [event] = audit_events(app, "user_deactivated")
    assert event.user_id == user and event.actor_id is None and event.details["sessions_revoked"] == 2
    assert_ok(flask_cli("users", "deactivate", "alice@example.test"), "was already inactive")


def test_users_activate_enables_the_account_again(app, flask_cli, make_user):
    user = make_user(email="alice@example.test", active=False)
    assert_ok(flask_cli("users", "activate", str(user)), f"activated {user}")
    assert is_active(app, user)
    [event] = audit_events(app, "user_activated")
    assert event.user_id == user and event.actor_id is None
    assert_ok(flask_cli("users", "activate", str(user)), "was already active")


def test_users_allow_records_the_email_lower_case_and_audits_it(app, flask_cli):
    assert_ok(flask_cli("users", "allow", "Dave@Example.TEST"), "allowed dave@example.test")
    with app.app_context():
        assert _db.session.get(AllowedEmail, "dave@example.test") is not None
    [event] = audit_events(app, "email_allowed")
    assert event.email == "dave@example.test" and event.actor_id is None


# -- flask roles ---------------------------------------------------------------


def test_roles_list_prints_each_role_with_its_permissions(flask_cli):
    result = flask_cli("roles", "list")
    assert_ok(result)
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()}
    assert lines["admin"] == ["audit:read,notes:read,notes:write,roles:write,service_accounts:write,users:read,users:write"]
    assert lines["user"] == ["notes:read,notes:write"]


def test_roles_create_creates_the_role_with_permissions_and_audits_it(app, flask_cli):
    result = flask_cli("roles", "create", "support", "--description", "Help desk", "-p", "users:read", "-p", "audit:read")
    assert_ok(result, "created role support")
    assert role_permissions(app, "support") == ["audit:read", "users:read"]
    [event] = audit_events(app, "role_created")
    assert event.actor_id is None and event.details == {"role": "support", "permissions": ["audit:read", "users:read"]}


def test_roles_set_permissions_replaces_them_and_audits_it(app, flask_cli, make_role):
    make_role("support", ["users:read"])
    assert_ok(flask_cli("roles", "set-permissions", "support", "audit:read", "users:write"),
              "support: audit:read,users:write")
    assert role_permissions(app, "support") == ["audit:read", "users:write"]
    [event] = audit_events(app, "role_permissions_changed")
    assert event.details == {"role": "support", "added": ["audit:read", "users:write"], "removed": ["users:read"]}
    assert_ok(flask_cli("roles", "set-permissions", "support"), "support: (none)")
    assert role_permissions(app, "support") == []


@pytest.mark.parametrize("args,message", [
    (("roles", "create", "support"), "the role support already exists"),
    (("roles", "create", "Bad Name"), "name must be"),
    (("roles", "create", "auditors", "-p", "audit:delete"), "unknown permission audit:delete"),
    (("roles", "set-permissions", "ghost", "users:read"), "No role named ghost"),
    (("roles", "set-permissions", "support", "users:read", "users:fly"), "unknown permission users:fly"),
    (("roles", "set-permissions", "admin", "users:read"), "the admin role must keep roles:write"),
])
def test_roles_command_errors_exit_non_zero_with_a_message_and_change_nothing(app, flask_cli, make_role, args,
                                                                             message):
    make_role("support", ["audit:read"])
    assert_fails(flask_cli(*args), message)
    assert role_permissions(app, "support") == ["audit:read"]
    assert role_permissions(app, "admin") == ["audit:read", "notes:read", "notes:write", "roles:write", "service_accounts:write", "users:read", "users:write"]
    assert role_permissions(app, "auditors") is None and role_permissions(app, "ghost") is None
    assert audit_events(app) == []


# -- flask wait-for-db -----------------------------------------------------------


def test_wait_for_db_succeeds_at_once_on_sqlite(flask_cli):
    assert_ok(flask_cli("wait-for-db", "--timeout", "5"), "database ready after")


def test_wait_for_db_gives_up_after_the_timeout_with_a_clear_message(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'missing-folder' / 'db.sqlite3'}")
    result = app.test_cli_runner().invoke(args=["wait-for-db", "--timeout", "0"])
    assert_fails(result, "database unreachable after")


# -- flask purge -----------------------------------------------------------------


def test_purge_deletes_old_revoked_sessions_and_spent_tokens_keeps_live_ones_and_prints_counts(
        app, client, clock, flask_cli, make_user, make_session):
    user = make_user()
    live, old_logout = make_session(user), make_session(user)
    client.post("/api/auth/logout", headers=old_logout.auth)
    spent = live.refresh_token
    rotated = client.post("/api/auth/refresh", json={"refresh_token": spent}).get_json()["refresh_token"]
    clock.advance(2 * 3600)
    recent_logout = make_session(user)
    client.post("/api/auth/logout", headers=recent_logout.auth)

    result = flask_cli("purge", "--retention", "3600")
    # old_logout's session and its unspent token; live's spent token.
    assert_ok(result, "purged 1 sessions and 2 refresh tokens")
    with app.app_context():
        assert {row.id for row in _db.session.execute(sa.select(Session)).scalars()} == {
            live.session_id, recent_logout.session_id}
        assert _db.session.execute(sa.select(sa.func.count()).select_from(RefreshToken)).scalar_one() == 2
    response = client.post("/api/auth/refresh", json={"refresh_token": rotated})
    assert response.status_code == 200
    assert_ok(flask_cli("purge", "--retention", "3600"), "purged 0 sessions and 0 refresh tokens")


@pytest.mark.parametrize("option", ["--retention", "--every"])
def test_purge_refuses_a_negative_duration(flask_cli, option):
    result = flask_cli("purge", option, "-1")
    assert result.exit_code == 2 and option in result.output


def test_flask_db_offers_flask_migrates_commands_and_options(app, flask_cli):
    def revision():
        with app.app_context():
            return _db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()

    assert_ok(flask_cli("db", "--help"), "--directory", "upgrade", "downgrade", "current")
    assert_ok(flask_cli("db", "downgrade", "0003"))
    assert revision() == "0003"
    assert_ok(flask_cli("db", "upgrade"))
    assert revision() == "0004"


def test_a_web_process_never_imports_alembic(tmp_path, signing_key_file):
    """The factory leaves Flask-Migrate (Alembic, Mako: ~10 MB a worker) to the ``flask db`` commands."""
    script = ("import sys; from authgw import create_app; create_app(); "
              "print(sorted(m for m in ('alembic', 'flask_migrate', 'mako') if m in sys.modules))")
    env = base_env(tmp_path, signing_key_file, FakeProvider.issuer)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout

"""``flask`` commands for operators: database wait, purge, users (and their
passwords), roles, service accounts."""

from __future__ import annotations

import time

import click
import tenacity
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError

from .extensions import db


def wait_for_database(timeout: float = 60.0, first_delay: float = 0.25, max_delay: float = 5.0) -> float:
    """Block until the database accepts a connection, with exponential backoff.

    Args:
        timeout: give up after this many seconds.
        first_delay, max_delay: backoff bounds, seconds.

    Returns:
        float: seconds waited.

    Raises:
        click.ClickException: still unreachable after ``timeout``.
    """
    start = time.monotonic()
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(OperationalError),
        wait=tenacity.wait_exponential(multiplier=first_delay, max=max_delay),
        stop=tenacity.stop_after_delay(timeout),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt, db.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
    except OperationalError as exc:
        waited = time.monotonic() - start
        raise click.ClickException(f"database unreachable after {waited:.0f} s: {exc.orig}") from None
    return time.monotonic() - start


def register_cli(app: Flask) -> None:
    """Add the operator commands to ``app.cli``."""

    @app.cli.command("wait-for-db")
    @click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait.")
    def wait_for_db_command(timeout: float) -> None:
        """Wait until the database answers (backoff up to 5 s between tries)."""
        waited = wait_for_database(timeout)
        click.echo(f"database ready after {waited:.1f} s")

    @app.cli.command("purge")
    @click.option("--retention", default=86400, show_default=True, type=click.IntRange(min=0),
                  help="Seconds to keep revoked sessions and spent tokens.")
    @click.option("--every", default=0, show_default=True, type=click.IntRange(min=0),
                  help="Repeat every N seconds (a scheduler in one process, e.g. a compose service); 0 runs once.")
    def purge_command(retention: int, every: int) -> None:
        """Delete expired sessions and spent or expired refresh tokens."""
        from .sessions import purge_expired

        from flask import current_app

        from .extension import AuthGW
        from .service_accounts import purge_cutoffs

        window = AuthGW.of(current_app).revocation_feed.window
        while True:
            try:
                counts = purge_expired(retention=retention)
                # Service-account cutoffs older than the feed's window only concern expired tokens.
                cutoffs = purge_cutoffs(window)
                db.session.commit()
                click.echo(f"purged {counts['sessions']} sessions and {counts['refresh_tokens']} refresh tokens")
                if cutoffs:
                    click.echo(f"purged {cutoffs} service-account cutoffs")
            except OperationalError as exc:
                if not every:
                    raise click.ClickException(f"database unreachable: {exc.orig}") from None
                db.session.rollback()
                click.echo(f"purge skipped, database unreachable: {exc.orig}", err=True)
            if not every:
                return
            time.sleep(every)

    register_admin_cli(app)


def _run(operation):
    """Run an admin operation in a transaction; print API errors as CLI errors."""
    from .exceptions import APIError

    try:
        result = operation()
        db.session.commit()
        return result
    except APIError as exc:
        db.session.rollback()
        raise click.ClickException(exc.description) from None


#: ``flask users seed-demo``: development accounts (email, password, extra role).
DEMO_ACCOUNTS = (
    ("demo-user@example.test", "demo user horse battery", "user"),
    ("demo-admin@example.test", "demo admin staple lantern", "admin"),
)


def register_admin_cli(app: Flask) -> None:
    """``flask users ...`` and ``flask roles ...``: the admin API's operations
    for operators bootstrapping without the UI. Changes are audited with no
    actor (the operator's shell)."""
    from . import admin

    # AppGroup: every subcommand runs in the app context, however the CLI is
    # invoked (the ``flask`` script, ``app.test_cli_runner()``, ``app.cli.main()``).
    users = AppGroup("users", help="List users, change their roles and activation, allow emails.")
    roles = AppGroup("roles", help="List and create roles, set their permissions.")
    app.cli.add_command(users)
    app.cli.add_command(roles)

    @users.command("list")
    @click.option("--query", "-q", default=None, help="Part of an email or name.")
    @click.option("--page", default=1, show_default=True)
    @click.option("--per-page", default=50, show_default=True)
    def users_list(query, page, per_page):
        """List users (id, email, active, roles)."""
        result = _run(lambda: admin.search_users({key: value for key, value in (('q', query), ('page', page), ('per_page', per_page)) if value is not None}))
        for user in result["users"]:
            click.echo(f"{user['id']:>6}  {user['email'] or '-':<40} {'active' if user['active'] else 'DISABLED':<8}  "
                       f"{','.join(user['roles'])}")
        click.echo(f"{result['total']} user(s)")

    @users.command("grant")
    @click.argument("user")
    @click.argument("role")
    def users_grant(user, role):
        """Give USER (id or email) the role ROLE."""
        changed = _run(lambda: admin.grant_role(admin.find_user(user), role, None))
        click.echo(f"granted {role} to {user}" if changed else f"{user} already has {role}")

    @users.command("revoke")
    @click.argument("user")
    @click.argument("role")
    def users_revoke(user, role):
        """Take the role ROLE from USER (id or email)."""
        changed = _run(lambda: admin.revoke_role(admin.find_user(user), role, None))
        click.echo(f"revoked {role} from {user}" if changed else f"{user} did not have {role}")

    @users.command("deactivate")
    @click.argument("user")
    def users_deactivate(user):
        """Disable USER: no sign-in, no refresh, live tokens refused within seconds."""
        changed = _run(lambda: admin.set_user_active(admin.find_user(user), False, None))
        click.echo(f"deactivated {user}" if changed else f"{user} was already inactive")

    @users.command("activate")
    @click.argument("user")
    def users_activate(user):
        """Enable USER again."""
        changed = _run(lambda: admin.set_user_active(admin.find_user(user), True, None))
        click.echo(f"activated {user}" if changed else f"{user} was already active")

    @users.command("allow")
    @click.argument("email")
    def users_allow(email):
        """Allow EMAIL to sign in before its first login (when an allowlist is set)."""
        row = _run(lambda: admin.allow_email(email, None))
        click.echo(f"allowed {row.email}")

    @users.command("set-password")
    @click.argument("email")
    def users_set_password(email):
        """Set the password of EMAIL, creating a local account if there is none.

        The password is read from the terminal, twice, never from the
        command line (shell history, process list)."""
        from flask import current_app

        from .accounts import set_local_password
        from .extension import AuthGW

        password = click.prompt("New password", hide_input=True, confirmation_prompt="Repeat the password")
        user, created = _run(lambda: set_local_password(AuthGW.of(current_app).settings, email, password))
        click.echo(f"{'created' if created else 'updated'} local account {user.email} (id {user.id})")

    @users.command("seed-demo")
    def users_seed_demo():
        """Create demo local accounts (development only; refused when APP_ENV=production)."""
        from flask import current_app

        from .accounts import set_local_password
        from .extension import AuthGW

        settings = AuthGW.of(current_app).settings
        if settings.is_production:
            raise click.ClickException("seed-demo is refused when APP_ENV=production")
        for email, password, role in DEMO_ACCOUNTS:
            user, _created = _run(lambda: set_local_password(settings, email, password))
            if role != "user":
                _run(lambda: admin.grant_role(user, role, None))
            click.echo(f"{email}  password: {password}  roles: {','.join(user.role_names)}")

    @roles.command("list")
    def roles_list():
        """List roles and their permissions."""
        for role in _run(admin.list_roles):
            click.echo(f"{role.name:<20} {','.join(sorted(p.name for p in role.permissions))}")

    @roles.command("create")
    @click.argument("name")
    @click.option("--description", default="", help="What the role is for.")
    @click.option("--permission", "-p", "permissions", multiple=True, help="A permission (repeatable).")
    def roles_create(name, description, permissions):
        """Create role NAME."""
        _run(lambda: admin.create_role(name, description, list(permissions), None))
        click.echo(f"created role {name}")

    @roles.command("set-permissions")
    @click.argument("name")
    @click.argument("permissions", nargs=-1)
    def roles_set_permissions(name, permissions):
        """Replace the permissions of role NAME with PERMISSIONS."""
        role = _run(lambda: admin.set_role_permissions(name, list(permissions), None))
        click.echo(f"{role.name}: {','.join(sorted(p.name for p in role.permissions)) or '(none)'}")

    register_service_account_cli(app)


def register_service_account_cli(app: Flask) -> None:
    """``flask service-accounts create|list|rotate|delete``: the bootstrap
    tool for machine clients (unrestricted, audited with no actor)."""
    from . import service_accounts

    group = AppGroup("service-accounts", help="Create, list, rotate and delete service accounts (machine clients).")
    app.cli.add_command(group)

    @group.command("create")
    @click.argument("name")
    @click.option("--role", "-r", "roles", multiple=True, help="A role whose permissions its tokens carry (repeatable).")
    def create(name, roles):
        """Create service account NAME; print its client id and secret (shown once)."""
        account, secret = _run(lambda: service_accounts.create_service_account(
            {"name": name, "roles": list(roles)}, None))
        click.echo(f"client_id:     {account.client_id}")
        click.echo(f"client_secret: {secret}")
        click.echo("The secret is shown only now; store it in the client's secret store.", err=True)

    @group.command("list")
    def list_():
        """List service accounts (never their secrets)."""
        accounts = _run(service_accounts.list_service_accounts)
        for account in accounts:
            click.echo(f"{account.client_id}  {account.name:<30} {','.join(account.role_names) or '-'}")
        click.echo(f"{len(accounts)} service account(s)")

    @group.command("rotate")
    @click.argument("client_id")
    def rotate(client_id):
        """Give CLIENT_ID a new secret (printed once); the old one stops at once."""
        _account, secret = _run(lambda: service_accounts.rotate_secret(client_id, None))
        click.echo(f"client_secret: {secret}")

    @group.command("delete")
    @click.argument("client_id")
    def delete(client_id):
        """Delete CLIENT_ID; its access tokens are refused within seconds."""
        _run(lambda: service_accounts.delete_service_account(client_id, None))
        click.echo(f"deleted {client_id}")

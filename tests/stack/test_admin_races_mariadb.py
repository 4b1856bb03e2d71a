"""The last-admin rule under concurrency, on real MariaDB (row locks and
REPEATABLE READ snapshots are what the rule must get right; the unit tests'
SQLite serialises writers by itself).

Two transactions each remove one of the two admins. Without the lock both
counted the other admin and both committed: nobody left to administer.
A barrier after each count holds the first transaction until the second has
counted too (or for 2 s, when the second is waiting on the lock).
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from test_migrations_mariadb import SCRATCH_DB, _flask, scratch_url  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def backend_importable(monkeypatch):
    """The backend's own code, in process (it is not an installed package)."""
    monkeypatch.syspath_prepend(str(ROOT / "backend"))


@pytest.fixture
def app(backend_importable, scratch_url, tmp_path):  # noqa: F811
    _flask("db", "upgrade", url=scratch_url)
    from authgw import create_app
    from authgw.extension import AuthGW
    from authgw.keys import generate_key_file

    generate_key_file(str(tmp_path / "jwt.pem"), "ES256")
    application = create_app({
        "APP_ENV": "test", "PUBLIC_URL": "http://localhost:8080", "DATABASE_URL": scratch_url,
        "SECRET_KEY": secrets.token_urlsafe(32), "JWT_PRIVATE_KEY_FILE": str(tmp_path / "jwt.pem"),
        "GOOGLE_CLIENT_ID": "race-test", "GOOGLE_CLIENT_SECRET": "race-test-secret",
        "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "none.json"), "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "ERROR",
        # The second transaction waits on the first's lock while the barrier
        # holds it (seconds); the default 1 s read timeout would end it first.
        "DATABASE_READ_TIMEOUT": "10"})
    yield application
    AuthGW.of(application).revocation_feed.close()
    from authgw.extensions import db

    with application.app_context():
        db.engine.dispose()


def test_two_admins_removed_at_once_leave_one(app, monkeypatch):
    from authgw import admin
    from authgw.clock import utcnow
    from authgw.exceptions import Conflict
    from authgw.extensions import db
    from authgw.models import Role, User

    with app.app_context():
        roles = db.session.execute(sa.select(Role).where(Role.name.in_(["user", "admin"]))).scalars().all()
        ids = []
        for name in ("first", "second"):
            user = User(issuer="https://race.example", subject=name, email=f"{name}@race.example", name=name,
                        created_at=utcnow(), active=True)
            user.roles.extend(roles)
            db.session.add(user)
            db.session.flush()
            ids.append(user.id)
        db.session.commit()

    barrier = threading.Barrier(2, timeout=2)
    counted = admin._is_last_active_admin

    def count_then_wait(user):
        last = counted(user)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # the other transaction is waiting on the lock
        return last

    monkeypatch.setattr(admin, "_is_last_active_admin", count_then_wait)
    outcomes = {}

    def demote(user_id):
        with app.app_context():
            try:
                admin.set_user_roles(db.session.get(User, user_id), ["user"], actor=None)
                db.session.commit()
                outcomes[user_id] = "demoted"
            except Conflict:
                db.session.rollback()
                outcomes[user_id] = "409"

    threads = [threading.Thread(target=demote, args=(user_id,)) for user_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes.values()) == ["409", "demoted"], outcomes
    with app.app_context():
        left = db.session.execute(
            sa.select(sa.func.count()).select_from(User).join(User.roles)
            .where(Role.name == "admin", User.active.is_(True))).scalar_one()
    assert left == 1


# --- a token request racing a privilege removal -------------------------------
#
# The request reads the grants, the removal commits, and the request mints
# after the removal's cutoff second has begun. Without the locks the token
# kept the removed privilege with an iat at the cutoff, which nothing
# refuses (docs/authorization.md "Removing a privilege"). With them, the
# removal waits for the request (its cutoff is then later than the token's
# iat) or the request waits for the removal (it sees the privilege gone).

def _editor_user(db, name: str):
    """A user holding ``user`` and a fresh role ``editor-<name>`` that grants
    ``notes:write``, with an open session; returns (user id, role name,
    refresh token)."""
    from authgw.clock import utcnow
    from authgw.models import Permission, Role, User
    from authgw.sessions import open_session

    permission = db.session.execute(sa.select(Permission).where(Permission.name == "notes:write")).scalar_one()
    role = Role(name=f"editor-{name}", description="race test", permissions=[permission])
    base = db.session.execute(sa.select(Role).where(Role.name == "user")).scalar_one()
    user = User(issuer="https://race.example", subject=name, email=f"{name}@race.example", name=name,
                created_at=utcnow(), active=True, roles=[base, role])
    db.session.add_all([role, user])
    db.session.flush()
    _session, raw = open_session(user, user_agent="race", ip="127.0.0.1", ttl=3600)
    db.session.commit()
    return user.id, role.name, raw


def _race(app, monkeypatch, module, name: str, request, remove) -> tuple[dict, int]:
    """Run ``request`` (returns the minted token's claims) and ``remove``
    (returns nothing; commits) at once: the request pauses right after
    ``module.name`` has read the grants until the removal has committed (at
    most 2 s: with the locks the removal waits for the request instead),
    then until the removal's cutoff second has begun. Returns (claims,
    cutoff)."""
    read, removed = threading.Event(), threading.Event()
    cutoff: dict[str, int] = {}
    original = getattr(module, name)

    def read_then_wait(*args, **kwargs):
        result = original(*args, **kwargs)
        read.set()
        if removed.wait(2):
            while time.time() < cutoff["value"] + 0.05:
                time.sleep(0.01)
        return result

    monkeypatch.setattr(module, name, read_then_wait)
    outcome: dict = {}

    def run_request():
        with app.app_context():
            outcome["claims"] = request()

    def run_removal():
        read.wait(5)
        with app.app_context():
            cutoff["value"] = remove()
        removed.set()

    threads = [threading.Thread(target=run_request), threading.Thread(target=run_removal)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert "claims" in outcome and "value" in cutoff, (outcome, cutoff)
    return outcome["claims"], cutoff["value"]


def _claims(token: str) -> dict:
    import jwt

    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("removal", ["role taken from the user", "permission taken from the role"])
def test_a_refresh_racing_a_privilege_removal_gets_it_refused(app, monkeypatch, removal):
    from authgw import admin, sessions
    from authgw.extension import AuthGW
    from authgw.extensions import db
    from authgw.models import Role, User
    from authgw.tokens import mint_access_token

    state = AuthGW.of(app)
    with app.app_context():
        user_id, role_name, raw = _editor_user(db, f"refresh-{removal.split()[0]}")

    def refresh():
        grant, _ = sessions.rotate_refresh_token(raw, ttl=3600, grace_seconds=0)
        return _claims(mint_access_token(grant, state.key_set, state.settings)[0])

    def remove():
        if removal == "role taken from the user":
            user = db.session.get(User, user_id)
            admin.set_user_roles(user, ["user"], actor=None)
            db.session.commit()
            return db.session.get(User, user_id).tokens_valid_after
        admin.set_role_permissions(role_name, [], actor=None)
        db.session.commit()
        return db.session.execute(sa.select(Role.tokens_valid_after).where(Role.name == role_name)).scalar_one()

    claims, cutoff = _race(app, monkeypatch, sessions, "read_grant", refresh, remove)
    kept = role_name in claims["roles"] if removal.startswith("role") else "notes:write" in claims["permissions"]
    assert not kept or claims["iat"] < cutoff, (claims, cutoff)


def test_a_client_token_racing_a_secret_rotation_gets_it_refused(app, monkeypatch):
    from authgw import service_accounts
    from authgw.extension import AuthGW
    from authgw.extensions import db
    from authgw.models import ServiceAccountCutoff

    state = AuthGW.of(app)
    with app.app_context():
        account, secret = service_accounts.create_service_account(
            {"name": "race", "roles": ["user"]}, actor=None)
        client_id = account.client_id
        db.session.commit()

    def token_request():
        account = service_accounts.authenticate_client(client_id, secret)
        assert account is not None
        token, _ = service_accounts.mint_client_token(service_accounts.grant_for_client(account),
                                                      state.key_set, state.settings)
        db.session.commit()
        return _claims(token)

    def rotate():
        service_accounts.rotate_secret(client_id, actor=None)
        db.session.commit()
        return db.session.get(ServiceAccountCutoff, client_id).not_before

    claims, cutoff = _race(app, monkeypatch, service_accounts, "grant_for_client", token_request, rotate)
    assert claims["iat"] < cutoff, (claims, cutoff)

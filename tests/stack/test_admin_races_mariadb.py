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

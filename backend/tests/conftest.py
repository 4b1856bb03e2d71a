"""Fixtures of the backend unit tests.

- ``make_app`` / ``app`` / ``client`` / ``db``: an application built by
  ``create_app`` with a test configuration: SQLite in a temporary folder
  (schema and seeds from the real Alembic migrations), a signing key
  generated into a temporary file, and a fake OpenID provider.
- ``provider``: the fake provider. Every HTTP request the backend makes
  through ``requests`` is answered by it; any other host raises
  ``ConnectionError``, so no test can reach the network.
- ``clock``: a clock that tests can move (``clock.advance(seconds)``).
- ``make_user`` / ``make_session`` / ``make_role``: small factories;
  ``signed_in_with(*permissions)``: a signed-in user holding exactly those
  permissions; ``signed_in_admin``: one with the built-in ``admin`` role.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import authgw.accounts
import authgw.audit
import authgw.clock
import authgw.oidc
import authgw.revocation
import authgw.sessions
import authgw.views.auth
from authgw import create_app
from authgw.extensions import db as _db
from authgw.models import Permission, Role, User
from authgw.extension import AuthGW
from authgw.sessions import grant_for_session, open_session
from authgw.tokens import mint_access_token

from .fakes import FakeProvider, install_fake_http

PUBLIC_URL = "http://localhost:8080"
CLIENT_ID = "authgw-test-client.apps.example.test"
CLIENT_SECRET = "test-client-secret"
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def write_ec_key(path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory):
    """One ES256 signing key for the whole run (PEM file in a temporary folder)."""
    path = tmp_path_factory.mktemp("keys") / "jwt-signing-key.pem"
    write_ec_key(path)
    return path


def base_env(tmp_path, signing_key_file, provider_issuer: str) -> dict:
    return {
        "APP_ENV": "test",
        "PUBLIC_URL": PUBLIC_URL,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'authgw.sqlite3'}",
        "SECRET_KEY": SECRET_KEY,
        "JWT_PRIVATE_KEY_FILE": str(signing_key_file),
        "GOOGLE_CLIENT_ID": CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
        "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "no-client-secret.json"),
        "GOOGLE_DISCOVERY_URL": f"{provider_issuer}/.well-known/openid-configuration",
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def migrated_db_template(tmp_path_factory, signing_key_file):
    """A SQLite file migrated once with the real Alembic migrations; each test copies it."""
    folder = tmp_path_factory.mktemp("template")
    app = create_app(base_env(folder, signing_key_file, FakeProvider.issuer))
    # The operator's command (entrypoint.sh), so its lazy binding is what is used.
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        _db.engine.dispose()
    return folder / "authgw.sqlite3"


@pytest.fixture
def provider(monkeypatch):
    """The fake OpenID provider, answering every outgoing ``requests`` call."""
    fake = FakeProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    install_fake_http(monkeypatch, fake)
    return fake


@pytest.fixture
def make_app(tmp_path, signing_key_file, migrated_db_template, provider):
    """Build an app; keyword arguments override environment variables (None removes one)."""
    apps = []

    def factory(**overrides):
        folder = tmp_path / f"app{len(apps)}"
        folder.mkdir()
        env = base_env(folder, signing_key_file, provider.issuer)
        if "DATABASE_URL" not in overrides:
            shutil.copy(migrated_db_template, folder / "authgw.sqlite3")
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = str(value)
        app = create_app(env)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield factory
    for app in apps:
        AuthGW.of(app).revocation_feed.close()  # its polling thread
        with app.app_context():
            _db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """The SQLAlchemy extension, inside an application context."""
    with app.app_context():
        yield _db
        _db.session.remove()


class MovableClock:
    """A UTC clock that starts at the real time and only moves when told."""

    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    """Freeze the service's clock; ``clock.advance(s)`` moves it forward."""
    fake = MovableClock()
    for module in (authgw.clock, authgw.sessions, authgw.revocation, authgw.accounts, authgw.audit,
                   authgw.oidc):
        monkeypatch.setattr(module, "utcnow", fake)
    return fake


@pytest.fixture
def make_user(app):
    """Create a user with roles (in ``on``, default ``app``); returns its id."""

    counter = iter(range(1, 10**6))

    def factory(email: str | None = None, roles=("user",), active: bool = True, name: str = "Test User",
                on=None) -> int:
        n = next(counter)
        email = email or f"user{n}@example.test"
        with (on or app).app_context():
            user = User(issuer="https://idp.test", subject=f"factory-{n}", email=email, name=name,
                        active=active, created_at=datetime.now(timezone.utc))
            user.roles = list(_db.session.execute(sa.select(Role).where(Role.name.in_(roles))).scalars())
            _db.session.add(user)
            _db.session.commit()
            return user.id

    return factory


class SignedIn:
    """What a client holds after signing in: ids, an access token, a refresh token."""

    def __init__(self, user_id: int, session_id: str, access_token: str, refresh_token: str):
        self.user_id = user_id
        self.session_id = session_id
        self.access_token = access_token
        self.refresh_token = refresh_token

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def make_session(app):
    """Open a session for a user id (as a login would, in ``on``, default ``app``); returns ``SignedIn``."""

    def factory(user_id: int, user_agent: str = "pytest-browser", ip: str = "192.0.2.1", on=None) -> SignedIn:
        target = on or app
        with target.app_context():
            user = _db.session.get(User, user_id)
            row, refresh_raw = open_session(user, user_agent=user_agent, ip=ip,
                                            ttl=AuthGW.of(target).settings.refresh_token_ttl)
            _db.session.commit()
            state = AuthGW.of(target)
            access, _ = mint_access_token(grant_for_session(row), state.key_set, state.settings)
            return SignedIn(user_id, row.id, access, refresh_raw)

    return factory


@pytest.fixture
def signed_in(make_user, make_session):
    return make_session(make_user())


@pytest.fixture
def make_role(app):
    """Create a role holding ``permissions`` (in ``on``, default ``app``); returns its name."""

    def factory(name: str, permissions=(), on=None) -> str:
        with (on or app).app_context():
            role = Role(name=name, description="",
                        permissions=list(_db.session.execute(sa.select(Permission).where(
                            Permission.name.in_(list(permissions)))).scalars()))
            assert len(role.permissions) == len(set(permissions)), f"unknown permission in {permissions}"
            _db.session.add(role)
            _db.session.commit()
        return name

    return factory


@pytest.fixture
def signed_in_admin(make_user, make_session):
    """A signed-in account with the built-in ``admin`` role (every admin permission)."""
    return make_session(make_user(email="admin@example.test", roles=("user", "admin"), name="Ada Admin"))


@pytest.fixture
def signed_in_with(make_role, make_user, make_session):
    """``signed_in_with(*permissions)``: a signed-in user whose extra role grants exactly ``permissions``."""
    counter = iter(range(1, 10**6))

    def factory(*permissions) -> SignedIn:
        role = make_role(f"holder-{next(counter)}", permissions)
        return make_session(make_user(roles=("user", role)))

    return factory

"""authgw: Sign in with Google and JWT-protected APIs behind an nginx gateway.

``create_app`` is the application factory (gunicorn: ``authgw:create_app()``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Mapping

import click
from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from authgw_kit import StaticKeys, TokenVerifier
from authgw_kit.flask import BoundedRequest

from .bearer import verify_token_in_request
from .bulkhead import DatabaseBulkhead
from .config import Settings, load_settings
from .errors import register_error_handlers
from .extension import AuthGW
from .extensions import db, limiter
from .keys import generate_key_file, load_key_set
from .login_state import EncryptedLoginStateInterface
from .observability import configure_logging, init_observability
from .oidc import OpenIDProvider
from .revocation import RevocationFeed
from .strict_json import StrictJSONProvider
from .tokens import LEEWAY_SECONDS

#: Seconds the login-state cookie (state, nonce, PKCE verifier) lives.
LOGIN_STATE_LIFETIME = 600
#: Largest request body accepted, in bytes.
MAX_CONTENT_LENGTH = 64 * 1024
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config: Mapping[str, str] | Settings | None = None) -> Flask:
    """Build the Flask application.

    Args:
        config: environment-like mapping read instead of ``os.environ``
            (tests), or ready ``Settings``; None reads ``os.environ``.

    Returns:
        Flask: the configured application.

    Raises:
        ConfigError: invalid settings (every problem listed).
        SigningKeyError: the signing key file is unusable.
    """
    app = Flask(__name__, instance_relative_config=False)
    app.json = StrictJSONProvider(app)
    app.request_class = BoundedRequest  # a chunked body over the limit is 413, not cut
    settings = config if isinstance(config, Settings) else load_settings(config, app.instance_path)
    configure_logging(settings.log_level, settings.log_format)

    if not settings.is_production:
        generate_key_file(settings.jwt_private_key_file, settings.jwt_algorithm)
    key_set = load_key_set(settings.jwt_private_key_file, settings.jwt_algorithm)

    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=settings.database_engine_options,
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        # The Flask session only carries the login state (state, nonce, PKCE
        # verifier): HttpOnly, SameSite=Lax (the callback is a cross-site
        # navigation from the provider), scoped to /api/auth.
        SESSION_COOKIE_NAME="login_state",
        SESSION_COOKIE_PATH="/api/auth",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=LOGIN_STATE_LIFETIME),
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_STORAGE_OPTIONS=settings.ratelimit_storage_options,
        # A limiter storage outage must not take sign-in down with it.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        JSON_SORT_KEYS=False,
    )
    app.session_interface = EncryptedLoginStateInterface()  # docs/login-and-tokens.md
    if settings.trusted_proxy_count:
        n = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    db.init_app(app)
    app.cli.add_command(_MigrationCommands(app))
    limiter.init_app(app)
    provider = OpenIDProvider(settings)
    provider.init_app(app)

    feed = RevocationFeed(window=settings.access_token_ttl + LEEWAY_SECONDS,
                          poll_interval=settings.revocation_poll_interval,
                          trust_window=settings.revocation_trust_window)
    with app.app_context():
        feed.bind(db.engine)
    verifier = TokenVerifier(issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                             keys=StaticKeys(key_set.jwks(), algorithms=key_set.algorithms), revocations=feed,
                             algorithms=key_set.algorithms, leeway=LEEWAY_SECONDS)
    AuthGW().init_app(app, settings=settings, key_set=key_set, verifier=verifier, revocation_feed=feed,
                      provider=provider)

    from .views import admin, api, auth, docs, internal, machine

    app.register_blueprint(auth.bp)
    app.register_blueprint(machine.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(internal.bp)
    app.register_blueprint(docs.bp)
    register_error_handlers(app)
    init_observability(app)

    @app.before_request
    def default_deny():
        """Every route needs a valid token unless its view is marked ``@public``."""
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        if view is not None and not getattr(view, "public", False):
            verify_token_in_request()

    # After default_deny: a request without a valid token never takes a slot.
    bulkhead = DatabaseBulkhead(settings.db_concurrency, settings.database_pool_timeout)
    bulkhead.init_app(app)
    AuthGW.of(app).bulkhead = bulkhead

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


    from .cli import register_cli

    register_cli(app)
    return app


class _MigrationCommands(click.Group):
    """``flask db ...``: Flask-Migrate's command group, bound to ``app`` on first use.

    Importing Flask-Migrate imports Alembic and Mako, about 10 MB of every
    process; the web workers never migrate (``entrypoint.sh`` runs
    ``flask db upgrade`` before gunicorn starts), so the factory registers
    this stand-in and the real group, with all its options and commands, is
    loaded only when a ``flask db`` command is parsed. Binding Flask-Migrate
    then replaces the stand-in in ``app.cli`` with the real group.
    """

    def __init__(self, app: Flask):
        super().__init__("db", help="Perform database migrations (Flask-Migrate, Alembic).")
        self._app = app

    def _bound(self) -> click.Group:
        from flask_migrate import Migrate
        from flask_migrate.cli import db as migration_group

        if "migrate" not in self._app.extensions:
            Migrate(self._app, db, directory=MIGRATIONS_DIR)
        return migration_group

    def make_context(self, info_name, args, parent=None, **extra):
        return self._bound().make_context(info_name, args, parent, **extra)

    def list_commands(self, ctx):
        return self._bound().list_commands(ctx)

    def get_command(self, ctx, cmd_name):
        return self._bound().get_command(ctx, cmd_name)

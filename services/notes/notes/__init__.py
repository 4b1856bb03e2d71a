"""notes: the example service behind the authgw gateway (docs/notes.md).

A signed-in user keeps short notes. The service verifies every request's
bearer token itself with the token-verification kit (``authgw_kit``),
whatever the gateway did before it (defence in depth), and never trusts
``X-Auth-*`` headers. ``create_app`` is the application factory (gunicorn:
``notes:create_app()``).
"""

from __future__ import annotations

from typing import Mapping

from flask import Flask, jsonify
from sqlalchemy import text

from authgw_kit import TokenVerifier
from authgw_kit.flask import AuthGWKit, BoundedRequest, public

from .config import Settings, load_settings
from .database import engine_options
from .errors import register_error_handlers
from .extensions import db
from .logs import configure_logging, init_request_ids
from .metrics import init_metrics
from .openapi import document

#: Largest request body accepted, in bytes (larger: 413).
MAX_CONTENT_LENGTH = 1024 * 1024


def create_app(config: Mapping[str, str] | Settings | None = None, *, verifier: TokenVerifier | None = None) -> Flask:
    """Build the notes application.

    Args:
        config: environment-like mapping read instead of ``os.environ``
            (tests), or ready ``Settings``; None reads ``os.environ``.
        verifier: token verifier to use instead of one built from the
            ``AUTHGW_*`` settings (tests pass one with static keys).

    Returns:
        Flask: the configured application. It does not touch the database;
        ``gunicorn.conf.py`` migrates before the workers start.

    Raises:
        ConfigError: invalid settings (every problem listed).
    """
    settings = config if isinstance(config, Settings) else load_settings(config)
    configure_logging(settings.log_level)

    app = Flask(__name__)
    app.request_class = BoundedRequest  # a chunked body over the limit is 413, not cut
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    app.url_map.strict_slashes = False

    db.init_app(app)
    init_request_ids(app)
    init_metrics(app)
    if verifier is None:
        verifier = TokenVerifier(issuer=settings.issuer, audience=settings.audience, jwks_url=settings.jwks_url,
                                 revocations_url=settings.revocations_url, trust_window=settings.trust_window,
                                 algorithms=settings.algorithm_list)
    AuthGWKit(app, verifier=verifier)
    app.extensions["notes"] = settings

    from .views import bp

    app.register_blueprint(bp)
    register_error_handlers(app)

    @app.get("/healthz")
    @public
    def healthz():
        """Liveness on the service port only (the gateway routes /api/notes alone): ``200 {"status": "ok"}``."""
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    @public
    def readyz():
        """Readiness: ``200`` when the database answers ``SELECT 1``, else ``503`` with ``Retry-After``."""
        db.session.execute(text("SELECT 1"))
        return jsonify({"status": "ok"})

    @app.get("/openapi.json")
    @public
    def openapi():
        """The OpenAPI 3.1 document of the notes endpoints (internal, like ``/healthz``)."""
        return jsonify(document())

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app

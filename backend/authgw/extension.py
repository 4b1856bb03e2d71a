"""The application state of authgw, as one typed Flask extension.

``AuthGW().init_app(app, settings=..., key_set=...)`` stores itself in
``app.extensions["authgw"]``; code reaches it through ``current_authgw()``
(or ``AuthGW.of(app)`` outside a request) and reads typed attributes, never
a dictionary by string key. Settings live here only: nothing is copied into
``app.config`` to be read back by key, except what Flask and its extensions
read themselves (``SECRET_KEY``, ``SQLALCHEMY_*``, cookie and limiter
options).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from authgw_kit import TokenVerifier
    from .bulkhead import DatabaseBulkhead
    from .config import Settings
    from .keys import KeySet
    from .oidc import OpenIDProvider
    from .revocation import RevocationFeed

EXTENSION_NAME = "authgw"


class AuthGW:
    """State shared by every request of one application.

    Attributes:
        settings (Settings): validated settings (docs/configuration.md).
        key_set (KeySet): signing key and every published key (RFC 7517).
        verifier (authgw_kit.TokenVerifier): the request check's verifier,
            with this process's keys and ``revocation_feed`` (docs/kit.md).
        revocation_feed (RevocationFeed): revoked sessions and privilege
            changes, refreshed in the background (docs/login-and-tokens.md).
        provider (OpenIDProvider): the OpenID provider sign-in goes to.
        bulkhead (DatabaseBulkhead | None): bounds database-using requests
            (set by ``create_app`` once the views are registered).
    """

    settings: "Settings"
    key_set: "KeySet"
    verifier: "TokenVerifier"
    revocation_feed: "RevocationFeed"
    provider: "OpenIDProvider"
    bulkhead: "DatabaseBulkhead | None" = None

    def __init__(self, app: Flask | None = None, **state):
        if app is not None:
            self.init_app(app, **state)

    def init_app(self, app: Flask, *, settings: "Settings", key_set: "KeySet",
                 verifier: "TokenVerifier", revocation_feed: "RevocationFeed",
                 provider: "OpenIDProvider") -> "AuthGW":
        """Bind the state to ``app`` and register the extension.

        Args:
            app: the Flask application being built by ``create_app``.
            settings, key_set, verifier, revocation_feed, provider: see
                the class.

        Returns:
            AuthGW: ``self``.

        Raises:
            RuntimeError: ``app`` already has an authgw extension.
        """
        if EXTENSION_NAME in app.extensions:
            raise RuntimeError("authgw is already initialised on this application")
        self.settings = settings
        self.key_set = key_set
        self.verifier = verifier
        self.revocation_feed = revocation_feed
        self.provider = provider
        app.extensions[EXTENSION_NAME] = self
        return self

    @staticmethod
    def of(app: Flask) -> "AuthGW":
        """Return the extension of ``app``.

        Raises:
            RuntimeError: ``app`` was not built by ``create_app``.
        """
        try:
            return app.extensions[EXTENSION_NAME]
        except KeyError:
            raise RuntimeError("authgw is not initialised on this application (use create_app)") from None


def current_authgw() -> AuthGW:
    """Return the extension of the application handling the current request
    or application context. Raises ``RuntimeError`` outside one."""
    return AuthGW.of(current_app)


def maybe_current_authgw() -> AuthGW | None:
    """Like ``current_authgw`` but None when the current app has no authgw
    extension (bare model tests); still needs an application context."""
    return current_app.extensions.get(EXTENSION_NAME)

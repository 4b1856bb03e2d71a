"""Flask extension: every view needs a valid access token unless marked ``@public``.

::

    from authgw_kit.flask import AuthGWKit, public, require_permission, current_token

    kit = AuthGWKit()                    # in extensions.py
    kit.init_app(app)                    # in create_app(); reads AUTHGW_* (docs/kit.md)

    @bp.post("/api/notes")
    @require_permission("notes:write")
    def create_note():
        owner = current_token().subject

The check runs in ``before_request`` for every request (default deny),
reads only the ``Authorization`` header (never ``X-Auth-*`` headers a
client or proxy may have set), and every refusal is answered as JSON
``{"error", "error_description"}`` with the RFC 6750 challenge.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Mapping, TypeVar

from flask import Flask, Request, Response, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import InsufficientScope, MissingToken, TokenError
from .token import VerifiedToken
from .verifier import TokenVerifier

F = TypeVar("F", bound=Callable[..., Any])
EXTENSION_KEY = "authgw_kit"


class BoundedRequest(Request):
    """Flask's request class, with a chunked body over the limit refused.

    A body sent without ``Content-Length`` (``Transfer-Encoding: chunked``)
    is read by Werkzeug up to ``MAX_CONTENT_LENGTH`` bytes and silently cut
    there, so a JSON body over the limit reached the view truncated and was
    answered ``400`` (not JSON) instead of ``413``, and a form lost its last
    fields. Here :meth:`get_data` (which ``get_json`` uses) and the form
    parsing raise ``RequestEntityTooLarge`` (413) when such a body fills
    the limit (a chunked body of exactly the limit counts: nothing tells it
    from a longer one without reading past the limit). Use it with ``app.request_class =
    BoundedRequest`` (docs/kit.md "Flask (`authgw_kit.flask`)").
    """

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        """Return the body (bytes, or str with ``as_text``), as Werkzeug does.

        Raises:
            RequestEntityTooLarge: no ``Content-Length`` and the body is at
                least ``max_content_length`` bytes (413).
        """
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        self._refuse_cut_body()
        return data.decode(errors="replace") if as_text else data

    def _load_form_data(self) -> None:
        super()._load_form_data()
        self._refuse_cut_body()

    def _refuse_cut_body(self) -> None:
        # Without Content-Length, Werkzeug reads through a stream limited to
        # max_content_length (when the server terminates the input, as
        # gunicorn does); that stream is exhausted once the limit is reached.
        if self.content_length is None and getattr(self.stream, "is_exhausted", False):
            raise RequestEntityTooLarge()


def public(view: F) -> F:
    """Mark a view as open: no token is needed or checked."""
    view._authgw_public = True  # type: ignore[attr-defined]
    return view


class AuthGWKit:
    """The Flask extension object (stored in ``app.extensions["authgw_kit"]``).

    Args:
        app (Flask | None): initialise at once (else call :meth:`init_app`).
        verifier (TokenVerifier | None): the verifier to use; default: built
            from ``AUTHGW_*`` keys of ``app.config`` (then of the
            environment) by :meth:`TokenVerifier.from_env`.
    """

    def __init__(self, app: Flask | None = None, verifier: TokenVerifier | None = None):
        self.verifier = verifier
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, verifier: TokenVerifier | None = None) -> None:
        """Install the default-deny check and the error handler on ``app``.

        Raises:
            ValueError: no verifier given and the ``AUTHGW_*`` settings are
                missing or malformed (every problem listed).
        """
        verifier = verifier or self.verifier
        if verifier is None:
            settings = {**os.environ, **{k: str(v) for k, v in app.config.items() if k.startswith("AUTHGW_")}}
            verifier = TokenVerifier.from_env(settings)
        self.verifier = verifier
        app.extensions[EXTENSION_KEY] = self
        app.before_request(self._check_request)
        app.register_error_handler(TokenError, render_error)

    def _check_request(self) -> None:
        view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
        if view is not None and getattr(view, "_authgw_public", False):
            return
        g.authgw_token = self.verifier.verify_authorization_header(request.headers.get("Authorization"))


def current_kit() -> AuthGWKit:
    """Return the extension of the current app.

    Raises:
        RuntimeError: ``AuthGWKit.init_app`` was not called for this app.
    """
    try:
        return current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("AuthGWKit.init_app(app) was not called") from None


def current_token(optional: bool = False) -> VerifiedToken | None:
    """Return the verified token of this request.

    Args:
        optional: in a ``@public`` view, return None instead of raising
            when no token was checked.

    Raises:
        MissingToken: no token was verified for this request (a public view).
    """
    token = g.get("authgw_token")
    if token is None and not optional:
        raise MissingToken()
    return token


def current_claims() -> dict[str, Any]:
    """Return the verified claims of this request as a dict.

    Raises:
        MissingToken: no token was verified for this request.
    """
    return dict(current_token())  # type: ignore[arg-type]


def require_permission(permission: str) -> Callable[[F], F]:
    """Decorate a view so that it needs ``permission`` (``resource:action``).

    A ``@public`` view decorated with it still checks the token here.

    Raises (as answers):
        MissingToken / InvalidToken (401), InsufficientScope (403,
        RFC 6750 §3.1), VerifierUnavailable (503).
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = g.get("authgw_token")
            if token is None:
                token = current_kit().verifier.verify_authorization_header(request.headers.get("Authorization"))
                g.authgw_token = token
            if not token.has_permission(permission):
                raise InsufficientScope(permission=permission)
            return view(*args, **kwargs)

        wrapper._authgw_public = False  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def json_error(status: int, code: str, description: str, headers: Mapping[str, str] | None = None) -> Response:
    """Build a JSON error answer ``{"error": code, "error_description": description}``.

    The shape of every refusal of the kit, for a service's own errors too
    (e.g. its handler of Werkzeug's HTTP errors, with
    :data:`authgw_kit.errors.HTTP_ERROR_CODES`).

    Args:
        status: HTTP status code.
        code: the ``error`` value, e.g. ``invalid_request``.
        description: the ``error_description`` value (never put a token in it).
        headers: extra headers (``WWW-Authenticate``, ``Retry-After``, ``Allow``),
            set after ``Cache-Control: no-store``.

    Returns:
        flask.Response: ``status``, ``Content-Type: application/json``,
        ``Cache-Control: no-store`` and ``headers``.
    """
    response = jsonify({"error": code, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_error(error: TokenError) -> Response:
    """Render a :class:`TokenError` as ``{"error", "error_description"}`` with its headers."""
    return json_error(error.status, error.error, error.description, error.headers())


__all__ = ["AuthGWKit", "public", "require_permission", "current_token", "current_claims", "current_kit",
           "json_error", "render_error"]

"""Pure ASGI middleware: every HTTP request needs a valid access token.

::

    app = AuthGWMiddleware(app, verifier=TokenVerifier.from_env(), public_paths=["/api/notes/health"])

For each ``http`` request outside ``public_paths`` it reads only the
``Authorization`` header (never ``X-Auth-*``), verifies the token and puts
the :class:`~authgw_kit.VerifiedToken` in ``scope["authgw.token"]`` and in
``scope["state"]["authgw_token"]`` (Starlette's ``request.state.authgw_token``).
Refusals are answered here as JSON ``{"error", "error_description"}`` with
the RFC 6750 challenge; a :class:`~authgw_kit.errors.TokenError` raised
further down (a permission check) is answered the same way while the
response has not started. WebSocket handshakes without a valid token are
closed with code 1008 (policy violation, RFC 6455 §7.4.1).

Verification runs inline: a cache hit costs microseconds, a new token one
signature check; only the first request (JWK Set and revocation list not
yet fetched) may wait up to the verifier's ``http_timeout``.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Iterable, MutableMapping

from .errors import TokenError
from .token import VerifiedToken
from .verifier import TokenVerifier

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
SCOPE_KEY = "authgw.token"


def is_public(path: str, public_paths: Iterable[str]) -> bool:
    """Return True when ``path`` is listed: exactly, or under an entry ending in ``/``."""
    for entry in public_paths:
        if path == entry or (entry.endswith("/") and path.startswith(entry)):
            return True
    return False


async def send_error(send: Send, error: TokenError) -> None:
    """Send ``error`` as a complete JSON response."""
    body = json.dumps(error.to_dict()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in error.headers().items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def authorization_header(scope: Scope) -> str | None:
    """Return the ``Authorization`` header of an ASGI scope, or None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return value.decode("latin-1")
    return None


class AuthGWMiddleware:
    """Default-deny token check for an ASGI application.

    Args:
        app: the ASGI application to protect.
        verifier (TokenVerifier): the verifier.
        public_paths (Iterable[str]): paths open without a token: exact, or
            a prefix when the entry ends in ``/`` (as in gateway/routes.toml).
    """

    def __init__(self, app: Callable, verifier: TokenVerifier, public_paths: Iterable[str] = ()):
        self.app = app
        self.verifier = verifier
        self.public_paths = tuple(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token: VerifiedToken | None = None
        if not is_public(scope.get("path", ""), self.public_paths):
            try:
                token = self.verifier.verify_authorization_header(authorization_header(scope))
            except TokenError as error:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await send_error(send, error)
                return
        scope[SCOPE_KEY] = token
        scope.setdefault("state", {})["authgw_token"] = token
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except TokenError as error:
            if started:
                raise
            await send_error(send, error)


__all__ = ["AuthGWMiddleware", "is_public", "send_error", "authorization_header", "SCOPE_KEY"]

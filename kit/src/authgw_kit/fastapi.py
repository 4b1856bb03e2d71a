"""FastAPI glue: dependencies over :class:`authgw_kit.asgi.AuthGWMiddleware`.

::

    from fastapi import Depends, FastAPI
    from authgw_kit import TokenVerifier
    from authgw_kit.fastapi import current_token, install, require_permission

    app = FastAPI()
    install(app, TokenVerifier.from_env(), public_paths=["/api/notes/health"])

    @app.post("/api/notes")
    def create(token=Depends(require_permission("notes:write"))):
        return {"owner": token.subject}

Needs the ``fastapi`` extra: ``pip install './kit[fastapi]'``.
"""

from __future__ import annotations

from typing import Callable, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .asgi import SCOPE_KEY, AuthGWMiddleware
from .errors import InsufficientScope, TokenError
from .token import VerifiedToken
from .verifier import TokenVerifier


def install(app: FastAPI, verifier: TokenVerifier, public_paths: Iterable[str] = ()) -> None:
    """Protect every route of ``app`` (default deny) and render kit errors.

    Adds :class:`AuthGWMiddleware`, keeps ``verifier`` in
    ``app.state.authgw_verifier`` and registers a handler answering any
    :class:`TokenError` as JSON ``{"error", "error_description"}``.
    """
    app.state.authgw_verifier = verifier
    app.add_middleware(AuthGWMiddleware, verifier=verifier, public_paths=list(public_paths))
    app.add_exception_handler(TokenError, _render)


async def _render(_request: Request, error: TokenError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=error.status, headers=error.headers())


def current_token(request: Request) -> VerifiedToken:
    """Dependency: the request's verified token.

    On a public path (the middleware checked nothing) the token is verified
    here, with the verifier given to :func:`install`.

    Raises:
        MissingToken / InvalidToken (401), VerifierUnavailable (503).
        RuntimeError: neither the middleware nor :func:`install` is in use.
    """
    token = request.scope.get(SCOPE_KEY)
    if token is None:
        verifier = getattr(request.app.state, "authgw_verifier", None)
        if verifier is None:
            raise RuntimeError("authgw_kit.fastapi.install(app, verifier) was not called")
        token = verifier.verify_authorization_header(request.headers.get("authorization"))
        request.scope[SCOPE_KEY] = token
    return token


def require_permission(permission: str) -> Callable[[Request], VerifiedToken]:
    """Dependency factory: the verified token, which must grant ``permission``.

    Raises:
        InsufficientScope: 403 (RFC 6750 §3.1) when the token lacks it;
            the errors of :func:`current_token` otherwise.
    """

    def dependency(request: Request) -> VerifiedToken:
        token = current_token(request)
        if not token.has_permission(permission):
            raise InsufficientScope(permission=permission)
        return token

    dependency.__name__ = f"require_permission_{permission.replace(':', '_')}"
    return dependency


__all__ = ["install", "current_token", "require_permission"]

"""The gateway's token check endpoint, ``GET /api/auth/verify``.

nginx asks this for every protected request its own cache cannot answer
(docs/gateway.md). Exactly one handler answers it: ``VerifyFastPath``, a
WSGI middleware in front of Flask, so its cost is the cost of the check.
It answers 204 with the ``X-Auth-*`` identity headers, or the JSON error of
docs/interface.md "Errors".
"""

from __future__ import annotations

from flask import Flask

from .bearer import check_token, parse_bearer
from .exceptions import APIError, AuthenticationRequired, MethodNotAllowed
from .extension import AuthGW


def identity_headers(claims: dict) -> list[tuple[str, str]]:
    """Return the ``X-Auth-*`` headers the gateway passes upstream for verified
    ``claims`` (docs/interface.md "Protected API"); lists are comma-separated."""
    return [
        ("X-Auth-User-Id", claims["sub"]),
        ("X-Auth-Email", claims["email"]),
        ("X-Auth-Roles", ",".join(claims["roles"])),
        ("X-Auth-Permissions", ",".join(claims["permissions"])),
        ("X-Auth-Session-Id", claims["sid"]),
    ]


class VerifyFastPath:
    """WSGI middleware answering ``GET /api/auth/verify`` before Flask routes
    the request (there is no Flask view for this path).

    Args:
        wsgi_app: the WSGI application it wraps (Flask's ``wsgi_app``).
        flask_app: the application whose ``AuthGW`` state and engine it uses.

    Answers: ``204`` with ``identity_headers`` and ``Cache-Control: no-store``;
    ``401``/``405``/``503`` with the JSON error of the ``APIError`` raised by
    ``check_token`` (docs/interface.md "Errors"). Other paths go to
    ``wsgi_app`` untouched.
    """

    PATH = "/api/auth/verify"

    def __init__(self, wsgi_app, flask_app: Flask):
        self.wsgi_app = wsgi_app
        self.state = AuthGW.of(flask_app)

    def __call__(self, wsgi_env, start_response):
        if wsgi_env.get("PATH_INFO") != self.PATH:
            return self.wsgi_app(wsgi_env, start_response)
        try:
            if wsgi_env.get("REQUEST_METHOD") not in ("GET", "HEAD"):
                raise MethodNotAllowed()
            token = parse_bearer(wsgi_env.get("HTTP_AUTHORIZATION"))
            if token is None:
                raise AuthenticationRequired()
            claims = check_token(token, self.state)
        except APIError as exc:
            return exc(wsgi_env, start_response)
        start_response("204 NO CONTENT", identity_headers(claims) + [("Cache-Control", "no-store")])
        return []


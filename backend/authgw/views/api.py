"""``/api/me``, health checks, public information and the JWK Set."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from ..bearer import public, verify_token_in_request
from ..extension import current_authgw
from ..exceptions import TokenInvalid
from ..extensions import db
from ..models import User

bp = Blueprint("api", __name__)


@bp.get("/api/me")
def me():
    """``200 {"id", "email", "name", "picture", "roles", "permissions"}`` of the caller."""
    claims = verify_token_in_request()
    user = db.session.get(User, int(claims["sub"]))
    if user is None:
        raise TokenInvalid("The account of this access token no longer exists.")
    return jsonify(id=str(user.id), email=user.email, name=user.name, picture=user.picture,
                   roles=user.role_names, permissions=user.permission_names)


#: Identity headers the gateway passes to services (docs/interface.md, "Protected API").
IDENTITY_HEADERS = ("X-Auth-User-Id", "X-Auth-Email", "X-Auth-Roles", "X-Auth-Permissions", "X-Auth-Session-Id")


@bp.get("/api/whoami")
def whoami():
    """Show what a service behind the gateway learns about the caller.

    Returns ``200 {"subject", "session_id", "gateway_headers": {name: value}}``:
    the verified token's subject and the ``X-Auth-*`` headers exactly as the
    gateway passed them. Useful when wiring a new service behind the gateway,
    and the proof that client-sent ``X-Auth-*`` headers never get through.
    """
    claims = verify_token_in_request()
    headers = {name: request.headers.get(name) for name in IDENTITY_HEADERS if name in request.headers}
    return jsonify(subject=claims["sub"], session_id=claims["sid"], gateway_headers=headers)


@bp.get("/api/public/ping")
@public
def public_ping():
    """``200 {"pong": true}`` without a token: the benchmark's baseline."""
    return jsonify(pong=True)


@bp.get("/api/ping")
def ping():
    """``200 {"pong": true, "sub"}`` with a valid token: the same work as
    ``/api/public/ping`` behind the gateway check and the backend's own."""
    return jsonify(pong=True, sub=verify_token_in_request()["sub"])


@bp.get("/api/health")
@public
def health():
    """``200 {"status": "ok"}`` while the process is alive."""
    return jsonify(status="ok")


@bp.get("/api/health/ready")
@public
def ready():
    """``200`` when the database answers, else ``503 service_unavailable``."""
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        response = jsonify(status="unavailable", database="unreachable", error="service_unavailable",
                           error_description="The database is unreachable.")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    return jsonify(status="ok", database="ok")


@bp.get("/api/public/info")
@public
def public_info():
    """What an anonymous visitor or another service may know about this issuer."""
    state = current_authgw()
    settings = state.settings
    return jsonify(
        name="authgw",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_uri=f"{settings.public_url}/.well-known/jwks.json",
        algorithms=state.key_set.algorithms,
        access_token_ttl=settings.access_token_ttl,
        provider="dev-idp" if settings.uses_dev_idp else "openid",
        provider_discovery_url=None if settings.uses_dev_idp else settings.oidc_discovery_url,
    )


@bp.get("/.well-known/jwks.json")
@public
def jwks():
    """RFC 7517 JWK Set of every key whose tokens may still be alive."""
    response = jsonify(current_authgw().key_set.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response

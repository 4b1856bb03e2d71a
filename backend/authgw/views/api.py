"""``/api/me``, health checks, public information and the JWK Set."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from ..bearer import public, verify_token_in_request
from ..bulkhead import no_database
from ..extension import current_authgw
from ..exceptions import TokenInvalid
from ..extensions import db, limiter
from ..models import ServiceAccount, User
from ..service_accounts import is_client_subject

bp = Blueprint("api", __name__)


@bp.get("/api/me")
def me():
    """``200 {"id", "email", "name", "picture", "roles", "permissions"}`` of the caller.

    For a service account's token: its ``client_id`` as ``id``, its name,
    ``email`` and ``picture`` null."""
    claims = verify_token_in_request()
    if "client_id" in claims or is_client_subject(claims["sub"]):
        # A service account has no user: its own account, in the same shape
        # (docs/machine-clients.md "What the API sees").
        account = db.session.execute(
            sa.select(ServiceAccount).where(ServiceAccount.client_id == claims["sub"])).scalar_one_or_none()
        if account is None:
            raise TokenInvalid("The service account of this access token no longer exists.")
        return jsonify(id=account.client_id, email=None, name=account.name, picture=None,
                       roles=account.role_names, permissions=account.permission_names)
    user = db.session.get(User, int(claims["sub"]))
    if user is None:
        raise TokenInvalid("The account of this access token no longer exists.")
    return jsonify(id=str(user.id), email=user.email, name=user.name, picture=user.picture,
                   roles=user.role_names, permissions=user.permission_names)


#: Identity headers the gateway passes to services (docs/interface.md, "Protected API").
IDENTITY_HEADERS = ("X-Auth-User-Id", "X-Auth-Email", "X-Auth-Roles", "X-Auth-Permissions", "X-Auth-Session-Id")


@bp.get("/api/whoami")
@no_database
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
@no_database
@public
def public_ping():
    """``200 {"pong": true}`` without a token: the benchmark's baseline."""
    return jsonify(pong=True)


@bp.get("/api/ping")
@no_database
def ping():
    """``200 {"pong": true, "sub"}`` with a valid token: the same work as
    ``/api/public/ping`` behind the gateway check and the backend's own."""
    return jsonify(pong=True, sub=verify_token_in_request()["sub"])


@bp.get("/api/health")
@no_database
@public
def health():
    """``200 {"status": "ok"}`` while the process is alive."""
    return jsonify(status="ok")


@bp.get("/api/health/ready")
@no_database
@public
def ready():
    """Report each dependency; ``200`` when the service can answer, else ``503``.

    Body: ``{"status": "ok"|"unavailable", "database": "ok"|"unreachable",
    "redis": "ok"|"unreachable"|"not_used", "revocation_feed": {"status":
    "ok"|"stale", "age_seconds": float|null, "trust_window": seconds}}``.
    The database decides the status (nothing works without it); Redis only
    holds rate-limit counters, which fall back to per-process ones, so an
    unreachable Redis is reported but keeps ``200``. Each check is bounded by
    its timeouts (docs/operations.md "Timeouts and fallbacks").
    """
    state = current_authgw()
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "unreachable"
    redis = "not_used"
    if state.settings.ratelimit_storage_uri.startswith(("redis", "rediss")):
        try:
            redis = "ok" if limiter.storage.check() else "unreachable"
        except Exception:  # noqa: BLE001 - any storage failure means unreachable
            redis = "unreachable"
    feed = state.revocation_feed
    age = feed.age()
    feed_ok = age is not None and age <= feed.trust_window
    body = {"status": "ok" if database == "ok" else "unavailable", "database": database, "redis": redis,
            "revocation_feed": {"status": "ok" if feed_ok else "stale",
                                "age_seconds": None if age is None else round(age, 3),
                                "trust_window": feed.trust_window}}
    headers = {"Cache-Control": "no-store"}
    if database != "ok":
        body.update(error="service_unavailable", error_description="The database is unreachable.")
        return jsonify(body), 503, headers | {"Retry-After": "5"}
    return jsonify(body), headers


@bp.get("/api/public/info")
@no_database
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
        password_login=settings.password_login,
    )


@bp.get("/.well-known/jwks.json")
@no_database
@public
def jwks():
    """RFC 7517 JWK Set of every key whose tokens may still be alive."""
    return jsonify(current_authgw().key_set.jwks()), {"Cache-Control": "public, max-age=300"}

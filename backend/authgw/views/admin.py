"""``/api/admin/*``: users, roles, allowed emails, service accounts, audit log.

Each route needs the permission docs/interface.md names ("Authorization"); a valid
token without it gets ``403 insufficient_scope``. Writes are rate limited.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from .. import admin, service_accounts
from ..bearer import require_any_permission, require_permission
from ..extension import current_authgw
from ..clock import rfc3339
from ..exceptions import InvalidRequest
from ..extensions import db, limiter
from ..schemas import AllowEmail, RoleCreate, ServiceAccountCreate, parse
from ..sessions import live_sessions

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


def _write_limit() -> str:
    return current_authgw().settings.ratelimit_admin_write


def _actor() -> admin.Actor:
    """The caller, with the permissions of its verified access token."""
    claims = g.token_claims
    permissions = frozenset(claims["permissions"])
    if "client_id" in claims or service_accounts.is_client_subject(claims["sub"]):
        return admin.Actor(id=None, permissions=permissions, client_id=claims["sub"])
    return admin.Actor(id=int(claims["sub"]), permissions=permissions)


def _json_body():
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidRequest("The body must be JSON (Content-Type: application/json).")
    return body


@bp.get("/users")
@require_permission("users:read")
def list_users():
    """``?q=&page=&per_page=`` → ``{"users", "page", "per_page", "total"}``."""
    return jsonify(admin.search_users(request.args))


@bp.get("/users/<user_id>")
@require_permission("users:read")
def get_user(user_id):
    """One user with live sessions."""
    user = admin.get_user(user_id)
    body = admin.user_summary(user)
    body["sessions"] = [{"id": s.id, "created_at": rfc3339(s.created_at), "last_used_at": rfc3339(s.last_used_at),
                         "user_agent": s.user_agent, "ip": s.ip} for s in live_sessions(user.id)]
    return jsonify(body)


@bp.patch("/users/<user_id>")
@require_permission("users:write")
@limiter.limit(_write_limit)
def patch_user(user_id):
    """``{"active": bool, "roles": [...]}``; deactivating revokes every session."""
    user = admin.get_user(user_id)
    admin.update_user(user, _json_body(), _actor())
    db.session.commit()
    return jsonify(admin.user_summary(user))


@bp.delete("/users/<user_id>/sessions/<session_id>")
@require_permission("users:write")
@limiter.limit(_write_limit)
def revoke_user_session(user_id, session_id):
    """Revoke one live session of a user (e.g. a lost phone); 204, or 404."""
    user = admin.get_user(user_id)
    admin.revoke_user_session(user, session_id, _actor())
    db.session.commit()
    return Response(status=204)


@bp.get("/allowed-emails")
@require_permission("users:read")
def list_allowed_emails():
    return jsonify(allowed_emails=admin.list_allowed_emails())


@bp.post("/allowed-emails")
@require_permission("users:write")
@limiter.limit(_write_limit)
def allow_email():
    """``{"email"}``: allow an email to sign in ahead of its first login."""
    body = parse(AllowEmail, _json_body())
    row = admin.allow_email(body.email, _actor())
    db.session.commit()
    return jsonify(email=row.email, created_at=rfc3339(row.created_at)), 201


@bp.get("/roles")
@require_any_permission("users:read", "roles:write")
def list_roles():
    """``{"roles": [{"name", "description", "permissions", "builtin"}], "permissions": [...]}``;
    whoever grants roles (``users:read`` or ``roles:write``) may see them."""
    return jsonify(roles=[admin.role_summary(role) for role in admin.list_roles()],
                   permissions=[{"name": p.name, "description": p.description} for p in admin.list_permissions()])


@bp.post("/roles")
@require_permission("roles:write")
@limiter.limit(_write_limit)
def create_role():
    """``{"name", "description", "permissions": [...]}`` → 201 role."""
    body = parse(RoleCreate, _json_body())
    role = admin.create_role(body.name, body.description, body.permissions, _actor())
    db.session.commit()
    return jsonify(admin.role_summary(role)), 201


@bp.put("/roles/<name>/permissions")
@require_permission("roles:write")
@limiter.limit(_write_limit)
def put_role_permissions(name):
    """``{"permissions": [...]}`` (or a bare array) replaces the role's permissions."""
    body = _json_body()
    permissions = body.get("permissions") if isinstance(body, dict) else body
    role = admin.set_role_permissions(name, permissions, _actor())
    db.session.commit()
    return jsonify(admin.role_summary(role))


@bp.get("/audit")
@require_permission("audit:read")
def audit():
    """``?user_id=&event=&page=&per_page=`` → ``{"events", "page", "per_page", "total"}``, newest first."""
    return jsonify(admin.search_audit(request.args))


@bp.get("/service-accounts")
@require_permission("service_accounts:write")
def list_service_accounts():
    """``{"service_accounts": [ServiceAccountSummary...]}``, never a secret."""
    return jsonify(service_accounts=[service_accounts.summary(account)
                                     for account in service_accounts.list_service_accounts()])


@bp.post("/service-accounts")
@require_permission("service_accounts:write")
@limiter.limit(_write_limit)
def create_service_account():
    """``{"name", "roles": [...]}`` → ``201 {"client_id", "client_secret", "name", "roles", "created_at"}``:
    the only answer that shows the secret. Handing out a role needs every
    permission it grants (403 ``insufficient_scope``)."""
    body = parse(ServiceAccountCreate, _json_body())
    account, secret = service_accounts.create_service_account(body, _actor())
    db.session.commit()
    response = jsonify(client_id=account.client_id, client_secret=secret, name=account.name,
                       roles=account.role_names, created_at=rfc3339(account.created_at))
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.post("/service-accounts/<client_id>/secret")
@require_permission("service_accounts:write")
@limiter.limit(_write_limit)
def rotate_service_account_secret(client_id):
    """``200 {"client_secret"}``: a new secret; the old one stops at once and
    the account's earlier access tokens are refused within seconds."""
    _account, secret = service_accounts.rotate_secret(client_id, _actor())
    db.session.commit()
    response = jsonify(client_secret=secret)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/service-accounts/<client_id>")
@require_permission("service_accounts:write")
@limiter.limit(_write_limit)
def delete_service_account(client_id):
    """``204``: the account is gone and its access tokens are refused within seconds."""
    service_accounts.delete_service_account(client_id, _actor())
    db.session.commit()
    return Response(status=204)

"""Administration operations, shared by the admin API and the ``flask`` CLI.

Each function validates its input, changes the database, records an audit
event, and leaves the commit to the caller, so the change and its audit
event land together. Input errors raise ``InvalidRequest`` or ``NotFound``
naming the offending field.

Who acts is an ``Actor`` (the API: the caller's id and the permissions of
its access token) or None (the ``flask`` CLI, the bootstrap tool, which can
do everything). An operation never hands out more than its actor holds
(docs/authorization.md "No escalation"): a refusal is
``InsufficientScope`` (403) and is audited as ``escalation_refused``. The
last active holder of ``admin`` keeps it (``Conflict``, 409). Removing a
privilege sets a cutoff that refuses access tokens issued before it
within seconds (docs/authorization.md "Removing a privilege").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from .audit import record_event
from .clock import rfc3339, utcnow
from .cutoffs import holder_not_before, lock_holder, new_cutoff, role_holders_not_before
from .exceptions import Conflict, InsufficientScope, InvalidRequest, NotFound
from .extensions import db
from .models import AllowedEmail, AuditEvent, Permission, Role, Session, User
from .schemas import (AllowEmail, AuditEventOut, AuditSearch, RoleCreate, RolePermissions, RoleSummary, UserPatch,
                      UserSearch, UserSummary, parse)
from .sessions import revoke_session, revoke_user_sessions

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")
PROTECTED_ROLES = frozenset({"user", "admin"})
ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class Actor:
    """Who performs an admin operation through the API.

    Attributes:
        id: the caller's user id (audit ``actor_id``); None for a service
            account (docs/machine-clients.md).
        permissions: the permissions of the caller's access token.
        client_id: the service account acting, if the caller is one.
    """

    id: int | None
    permissions: frozenset[str]
    client_id: str | None = None


def _actor_id(actor: Actor | None) -> int | None:
    return actor.id if actor is not None else None


def _require_holds(actor: Actor | None, needed, operation: str, **details) -> None:
    """Refuse an operation that would hand out (or touch) permissions the actor lacks.

    Raises:
        InsufficientScope: ``needed`` is not a subset of ``actor.permissions``;
            the refusal is audited (and committed) as ``escalation_refused``.
    """
    if actor is None:
        return
    missing = sorted(set(needed) - actor.permissions)
    if missing:
        db.session.rollback()
        if actor.client_id is not None:
            details = {**details, "actor_client_id": actor.client_id}
        record_event("escalation_refused", actor_id=actor.id, operation=operation, missing=missing, **details)
        db.session.commit()
        raise InsufficientScope(f"This would need the permission {' and '.join(missing)}, which you do not hold.")


def _is_last_active_admin(user: User) -> bool:
    """Whether ``user`` is the only active admin (docs/authorization.md
    "The last admin").

    Two requests removing two different admins at once must not both see
    the other one: the ``admin`` role's row is locked (``FOR UPDATE``, held
    until the transaction ends) before the others are counted, and they are
    counted with a locking read, which sees the latest committed rows rather
    than the transaction's snapshot. So the second request waits for the
    first to commit, then finds it was the last (SQLite, the unit tests'
    database, has no row locks and serialises writers itself).
    """
    if not user.active or ADMIN_ROLE not in user.role_names:
        return False
    db.session.execute(sa.select(Role.id).where(Role.name == ADMIN_ROLE).with_for_update())
    others = db.session.execute(
        sa.select(sa.func.count()).select_from(User).join(User.roles)
        .where(Role.name == ADMIN_ROLE, User.active.is_(True), User.id != user.id)
        .with_for_update(read=True)
    ).scalar_one()
    return others == 0


def user_summary(user: User) -> dict:
    """Return the admin view of a user (``schemas.UserSummary``)."""
    return UserSummary(
        id=str(user.id), email=user.email, name=user.name, picture=user.picture, active=user.active,
        roles=user.role_names, permissions=user.permission_names, issuer=user.issuer,
        created_at=rfc3339(user.created_at), last_login_at=rfc3339(user.last_login_at),
    ).model_dump()


def role_summary(role: Role) -> dict:
    """Return a role and what it grants (``schemas.RoleSummary``)."""
    return RoleSummary(name=role.name, description=role.description,
                       permissions=sorted(p.name for p in role.permissions),
                       builtin=role.name in PROTECTED_ROLES).model_dump()


def search_users(query) -> dict:
    """Page through users whose email or name contains ``q``.

    Args:
        query (schemas.UserSearch | Mapping): ``q``, ``page``, ``per_page``
            (a mapping such as ``request.args`` is validated first).

    Returns:
        dict: ``{"users": [UserSummary...], "page", "per_page", "total"}``.

    Raises:
        InvalidRequest: a bad ``q``, ``page`` or ``per_page``, named first.
    """
    search = query if isinstance(query, UserSearch) else parse(UserSearch, query)
    statement = sa.select(User)
    text = search.q.strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(sa.or_(User.email.ilike(pattern, escape="\\"),
                                           User.name.ilike(pattern, escape="\\")))
    result = db.paginate(statement.order_by(User.id), page=search.page, per_page=search.per_page, error_out=False)
    return {"users": [user_summary(user) for user in result.items], "page": search.page,
            "per_page": search.per_page, "total": result.total}


def get_user(user_id) -> User:
    """Return the user with id ``user_id`` (string or int).

    Raises:
        InvalidRequest: ``id`` is not a positive whole number.
        NotFound: no such user.
    """
    try:
        number = int(user_id)
    except (TypeError, ValueError):
        raise InvalidRequest("id must be a whole number.") from None
    if number < 1 or number > 2**31:
        raise InvalidRequest("id must be a positive whole number.")
    user = db.session.get(User, number)
    if user is None:
        raise NotFound(f"No user with id {number}.")
    return user


def find_user(identifier: str) -> User:
    """Return a user by numeric id or email (CLI convenience).

    Raises:
        NotFound: no such user.
    """
    if identifier.isdigit():
        return get_user(identifier)
    user = db.session.execute(sa.select(User).where(User.email == identifier.strip().lower())).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No user with email {identifier}.")
    return user


def _by_name(model, names, field: str, noun: str) -> list:
    """Return the ``model`` rows named in ``names`` (roles or permissions).

    Raises:
        InvalidRequest: ``names`` is not an array of strings, or names an
            unknown row; the description starts with ``field``.
    """
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidRequest(f"{field} must be an array of {noun} names.")
    wanted = sorted(set(names))
    found = {row.name: row for row in db.session.execute(sa.select(model).where(model.name.in_(wanted))).scalars()}
    unknown = [name for name in wanted if name not in found]
    if unknown:
        raise InvalidRequest(f"{field}: unknown {noun} {', '.join(unknown)}.")
    return [found[name] for name in wanted]


def roles_by_name(names) -> list[Role]:
    """Return the roles named in ``names``, sorted by name, each once.

    Used for users' and service accounts' roles alike.

    Raises:
        InvalidRequest: ``names`` is not an array of strings, or names an
            unknown role (``roles: unknown role ...``).
    """
    return _by_name(Role, names, "roles", "role")


def _permissions_by_name(names) -> list[Permission]:
    return _by_name(Permission, names, "permissions", "permission")


def set_user_roles(user: User, names: list[str], actor: Actor | None) -> bool:
    """Replace a user's roles (``user`` is always kept). Added roles show in
    the next refreshed token; a removed role also refuses the user's access
    tokens issued before now (cutoff), so clients refresh without it.

    Returns:
        bool: whether anything changed.

    Raises:
        InvalidRequest: ``roles`` is not an array of known role names.
        InsufficientScope: the user holds, or a new role grants, a
            permission the actor lacks.
        Conflict: it would take ``admin`` from the last active admin.
    """
    roles = roles_by_name(list(names) + ["user"])
    before = set(user.role_names)
    after = {role.name for role in roles}
    if before == after:
        return False
    added = [role for role in roles if role.name not in before]
    _require_holds(actor, set(user.permission_names).union(*({p.name for p in r.permissions} for r in added)),
                   "set_roles", user_id=user.id, roles=sorted(after))
    if ADMIN_ROLE in before - after and _is_last_active_admin(user):
        raise Conflict("roles: this is the last active admin; give admin to another account first.")
    if before - after:
        # After the last-admin rule's lock on the admin role (the order every
        # admin change takes), before the cutoff is computed (lock_holder).
        lock_holder(User, user.id)
        # Before the change: a role being removed may have raised the iat
        # of the user's current tokens (cutoffs.new_cutoff). Read under the
        # locks, not from this transaction's snapshot: a cutoff committed
        # since must count.
        held = holder_not_before(user)
        user.tokens_valid_after = new_cutoff(lambda: held)
    user.roles = roles
    record_event("roles_changed", user_id=user.id, actor_id=_actor_id(actor), email=user.email,
                 added=sorted(after - before), removed=sorted(before - after))
    return True


def grant_role(user: User, name: str, actor: Actor | None) -> bool:
    """Add role ``name`` to ``user``. Returns whether anything changed."""
    return set_user_roles(user, user.role_names + [name], actor)


def revoke_role(user: User, name: str, actor: Actor | None) -> bool:
    """Remove role ``name`` from ``user``. Returns whether anything changed."""
    if name == "user":
        raise InvalidRequest("roles: every account keeps the user role.")
    roles_by_name([name])
    return set_user_roles(user, [r for r in user.role_names if r != name], actor)


def _refuse_bad_deactivation(user: User, actor: Actor | None) -> None:
    """The two deactivations refused, the last active admin first (``409``,
    whoever asks), then one's own account (``400``).

    Raises:
        Conflict: ``user`` is the last active admin.
        InvalidRequest: ``actor`` is ``user``.
    """
    if _is_last_active_admin(user):
        raise Conflict("active: this is the last active admin; give admin to another account first.")
    if actor is not None and actor.id == user.id:
        raise InvalidRequest("active: you cannot deactivate your own account.")


def set_user_active(user: User, active, actor: Actor | None) -> bool:
    """Activate or deactivate a user. Deactivation revokes every session, so
    the user's live access tokens are refused within seconds.

    Returns:
        bool: whether anything changed.

    Raises:
        InvalidRequest: ``active`` is not a boolean, or an admin tries to
            deactivate themself.
        InsufficientScope: the user holds a permission the actor lacks.
        Conflict: deactivating the last active admin.
    """
    if not isinstance(active, bool):
        raise InvalidRequest("active must be true or false.")
    if user.active == active:
        return False
    _require_holds(actor, user.permission_names, "set_active", user_id=user.id, active=active)
    if not active:
        _refuse_bad_deactivation(user, actor)
    user.active = active
    revoked = 0
    if not active:
        revoked = revoke_user_sessions(user.id, reason="user_deactivated")
    record_event("user_activated" if active else "user_deactivated", user_id=user.id, actor_id=_actor_id(actor),
                 email=user.email, sessions_revoked=revoked)
    return True


def update_user(user: User, changes, actor: Actor | None) -> User:
    """Apply a PATCH body ``{"active": bool, "roles": [...]}`` (``schemas.UserPatch``,
    both optional); nothing changes unless all of it is valid.

    Raises:
        InvalidRequest: not an object, unknown field, or a bad value.
    """
    patch = parse(UserPatch, changes)
    if patch.active is False and user.active:  # refused before the roles change: all or nothing
        _require_holds(actor, user.permission_names, "set_active", user_id=user.id, active=False)
        _refuse_bad_deactivation(user, actor)
    if "roles" in patch.model_fields_set:
        roles_by_name(patch.roles)  # validate everything before changing anything
        set_user_roles(user, patch.roles, actor)
    if "active" in patch.model_fields_set:
        set_user_active(user, patch.active, actor)
    return user


def revoke_user_session(user: User, session_id: str, actor: Actor | None) -> None:
    """Revoke one live session of ``user``; its access tokens are refused within seconds.

    Raises:
        NotFound: no live session ``session_id`` belongs to ``user``.
        InsufficientScope: the user holds a permission the actor lacks.
    """
    _require_holds(actor, user.permission_names, "revoke_session", user_id=user.id)
    session = db.session.get(Session, session_id[:43]) if isinstance(session_id, str) else None
    if session is None or session.user_id != user.id or session.revoked_at is not None:
        raise NotFound("No such live session for this user.")
    revoke_session(session, reason="revoked_by_admin")
    record_event("session_revoked", user_id=user.id, actor_id=_actor_id(actor), session_id=session.id, by="admin")


def allow_email(email, actor: Actor | None) -> AllowedEmail:
    """Allow ``email`` to sign in before its first login (with an allowlist set).

    Raises:
        InvalidRequest: ``email`` is not an email address.
    """
    email = parse(AllowEmail, {"email": email}).email.strip().lower()
    if not EMAIL.match(email):
        raise InvalidRequest("email must be an email address.")
    row = db.session.get(AllowedEmail, email)
    if row is None:
        row = AllowedEmail(email=email, created_at=utcnow(), created_by_id=_actor_id(actor))
        db.session.add(row)
        record_event("email_allowed", actor_id=_actor_id(actor), email=email)
    return row


def list_allowed_emails() -> list[dict]:
    rows = db.session.execute(sa.select(AllowedEmail).order_by(AllowedEmail.email)).scalars()
    return [{"email": row.email, "created_at": rfc3339(row.created_at)} for row in rows]


def list_roles() -> list[Role]:
    return list(db.session.execute(sa.select(Role).order_by(Role.name)).scalars())


def list_permissions() -> list[Permission]:
    return list(db.session.execute(sa.select(Permission).order_by(Permission.name)).scalars())


def create_role(name, description, permissions, actor: Actor | None) -> Role:
    """Create a role.

    Raises:
        InvalidRequest: bad ``name``, bad ``description``, unknown
            ``permissions``.
        Conflict: a role named ``name`` exists (``409``, as for an email
            allowed twice or registered twice).
    """
    fields = {"name": name, "description": description, "permissions": permissions}
    spec = parse(RoleCreate, {key: value for key, value in fields.items() if value is not None})
    if db.session.execute(sa.select(Role).where(Role.name == spec.name)).scalar_one_or_none() is not None:
        raise Conflict(f"name: the role {spec.name} already exists.")
    granted = _permissions_by_name(spec.permissions)
    _require_holds(actor, {p.name for p in granted}, "create_role", role=spec.name)
    role = Role(name=spec.name, description=spec.description, permissions=granted)
    db.session.add(role)
    db.session.flush()
    record_event("role_created", actor_id=_actor_id(actor), role=spec.name,
                 permissions=sorted(p.name for p in role.permissions))
    return role


def set_role_permissions(name: str, permissions, actor: Actor | None) -> Role:
    """Replace the permissions of role ``name``; users' next refreshed
    tokens carry the change.

    Raises:
        NotFound: no such role.
        InvalidRequest: unknown permission, or removing ``roles:write`` from
            ``admin`` (which would lock every administrator out).
    """
    role = db.session.execute(sa.select(Role).where(Role.name == name)).scalar_one_or_none()
    if role is None:
        raise NotFound(f"No role named {name}.")
    new = _permissions_by_name(parse(RolePermissions, {"permissions": permissions}).permissions)
    if role.name == "admin" and "roles:write" not in {p.name for p in new}:
        raise InvalidRequest("permissions: the admin role must keep roles:write.")
    before = {p.name for p in role.permissions}
    after = {p.name for p in new}
    if before == after:
        return role
    _require_holds(actor, before | after, "set_role_permissions", role=name)
    if before - after:
        lock_holder(Role, role.id)
        db.session.refresh(role, ["tokens_valid_after"], with_for_update=True)  # the latest, not the snapshot's
        role.tokens_valid_after = new_cutoff(lambda: role_holders_not_before(role))
    role.permissions = new
    record_event("role_permissions_changed", actor_id=_actor_id(actor), role=name,
                 added=sorted(after - before), removed=sorted(before - after))
    return role


def search_audit(query) -> dict:
    """Page through audit events, newest first, filtered by user and event.

    Args:
        query (schemas.AuditSearch | Mapping): ``user_id`` (as subject or
            actor), ``event``, ``page``, ``per_page``.

    Returns:
        dict: ``{"events": [AuditEventOut...], "page", "per_page", "total"}``.

    Raises:
        InvalidRequest: bad ``user_id``, unknown ``event``, bad paging.
    """
    from .audit import EVENTS

    search = query if isinstance(query, AuditSearch) else parse(AuditSearch, query)
    statement = sa.select(AuditEvent)
    if search.user_id is not None:
        statement = statement.where(sa.or_(AuditEvent.user_id == search.user_id,
                                           AuditEvent.actor_id == search.user_id))
    if search.event:
        if search.event not in EVENTS:
            raise InvalidRequest(f"event must be one of {', '.join(sorted(EVENTS))}.")
        statement = statement.where(AuditEvent.event == search.event)
    result = db.paginate(statement.order_by(AuditEvent.id.desc()), page=search.page, per_page=search.per_page,
                         error_out=False)
    return {"events": [AuditEventOut(
        id=row.id, created_at=rfc3339(row.created_at), event=row.event,
        user_id=None if row.user_id is None else str(row.user_id),
        actor_id=None if row.actor_id is None else str(row.actor_id),
        email=row.email, ip=row.ip, user_agent=row.user_agent, details=row.details,
    ).model_dump() for row in result.items], "page": search.page, "per_page": search.per_page,
        "total": result.total}

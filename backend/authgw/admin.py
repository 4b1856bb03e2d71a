"""Administration operations, shared by the admin API and the ``flask`` CLI.

Each function validates its input, changes the database, records an audit
event, and leaves the commit to the caller, so the change and its audit
event land together. Input errors raise ``InvalidRequest`` or ``NotFound``
naming the offending field.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from .audit import record_event
from .clock import rfc3339, utcnow
from .exceptions import InvalidRequest, NotFound
from .extensions import db
from .models import AllowedEmail, AuditEvent, Permission, Role, Session, User
from .sessions import revoke_session, revoke_user_sessions

ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
PERMISSION_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}:[a-z][a-z0-9_-]{0,30}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")
PROTECTED_ROLES = frozenset({"user", "admin"})
MAX_PER_PAGE = 100


def user_summary(user: User) -> dict:
    """Return the admin view of a user: ``{"id", "email", "name", "picture",
    "active", "roles", "permissions", "created_at", "last_login_at"}``."""
    return {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "picture": user.picture,
        "active": user.active,
        "roles": user.role_names,
        "permissions": user.permission_names,
        "issuer": user.issuer,
        "created_at": rfc3339(user.created_at),
        "last_login_at": rfc3339(user.last_login_at),
    }


def role_summary(role: Role) -> dict:
    return {"name": role.name, "description": role.description,
            "permissions": sorted(p.name for p in role.permissions), "builtin": role.name in PROTECTED_ROLES}


def parse_paging(page, per_page, default_per_page: int = 20) -> tuple[int, int]:
    """Validate ``page`` (from 1) and ``per_page`` (1 to 100) query values.

    Raises:
        InvalidRequest: naming ``page`` or ``per_page``.
    """
    def as_int(name, value, default, upper):
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidRequest(f"{name} must be a whole number.") from None
        if not 1 <= number <= upper:
            raise InvalidRequest(f"{name} must be between 1 and {upper}.")
        return number

    return as_int("page", page, 1, 10**6), as_int("per_page", per_page, default_per_page, MAX_PER_PAGE)


def search_users(query: str | None, page: int, per_page: int) -> dict:
    """Page through users whose email or name contains ``query``.

    Returns:
        dict: ``{"users": [...], "page", "per_page", "total"}``.
    """
    statement = sa.select(User)
    if query:
        if len(query) > 254:
            raise InvalidRequest("q must be at most 254 characters.")
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(sa.or_(User.email.ilike(pattern, escape="\\"), User.name.ilike(pattern, escape="\\")))
    total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()
    users = db.session.execute(statement.order_by(User.id).limit(per_page).offset((page - 1) * per_page)).scalars()
    return {"users": [user_summary(user) for user in users], "page": page, "per_page": per_page, "total": total}


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


def _roles_by_name(names) -> list[Role]:
    return _by_name(Role, names, "roles", "role")


def _permissions_by_name(names) -> list[Permission]:
    return _by_name(Permission, names, "permissions", "permission")


def set_user_roles(user: User, names: list[str], actor_id: int | None) -> bool:
    """Replace a user's roles (``user`` is always kept). Shows in the next
    refreshed token.

    Returns:
        bool: whether anything changed.

    Raises:
        InvalidRequest: ``roles`` is not an array of known role names.
    """
    roles = _roles_by_name(list(names) + ["user"])
    before = set(user.role_names)
    after = {role.name for role in roles}
    if before == after:
        return False
    user.roles = roles
    record_event("roles_changed", user_id=user.id, actor_id=actor_id, email=user.email,
                 added=sorted(after - before), removed=sorted(before - after))
    return True


def grant_role(user: User, name: str, actor_id: int | None) -> bool:
    """Add role ``name`` to ``user``. Returns whether anything changed."""
    return set_user_roles(user, user.role_names + [name], actor_id)


def revoke_role(user: User, name: str, actor_id: int | None) -> bool:
    """Remove role ``name`` from ``user``. Returns whether anything changed."""
    if name == "user":
        raise InvalidRequest("roles: every account keeps the user role.")
    _roles_by_name([name])
    return set_user_roles(user, [r for r in user.role_names if r != name], actor_id)


def set_user_active(user: User, active, actor_id: int | None) -> bool:
    """Activate or deactivate a user. Deactivation revokes every session, so
    the user's live access tokens are refused within seconds.

    Returns:
        bool: whether anything changed.

    Raises:
        InvalidRequest: ``active`` is not a boolean, or an admin tries to
            deactivate themself.
    """
    if not isinstance(active, bool):
        raise InvalidRequest("active must be true or false.")
    if user.active == active:
        return False
    if not active and actor_id is not None and actor_id == user.id:
        raise InvalidRequest("active: you cannot deactivate your own account.")
    user.active = active
    revoked = 0
    if not active:
        revoked = revoke_user_sessions(user.id, reason="user_deactivated")
    record_event("user_activated" if active else "user_deactivated", user_id=user.id, actor_id=actor_id,
                 email=user.email, sessions_revoked=revoked)
    return True


def update_user(user: User, changes, actor_id: int | None) -> User:
    """Apply a PATCH body ``{"active": bool, "roles": [...]}`` (both optional).

    Raises:
        InvalidRequest: not an object, unknown field, or a bad value.
    """
    if not isinstance(changes, dict):
        raise InvalidRequest("The body must be a JSON object.")
    unknown = set(changes) - {"active", "roles"}
    if unknown:
        raise InvalidRequest(f"{', '.join(sorted(unknown))}: unknown field (allowed: active, roles).")
    if "roles" in changes:
        _roles_by_name(changes["roles"])  # validate everything before changing anything
    if "active" in changes and not isinstance(changes["active"], bool):
        raise InvalidRequest("active must be true or false.")
    if "roles" in changes:
        set_user_roles(user, changes["roles"], actor_id)
    if "active" in changes:
        set_user_active(user, changes["active"], actor_id)
    return user


def revoke_user_session(user: User, session_id: str, actor_id: int | None) -> None:
    """Revoke one live session of ``user``; its access tokens are refused within seconds.

    Raises:
        NotFound: no live session ``session_id`` belongs to ``user``.
    """
    session = db.session.get(Session, session_id[:43]) if isinstance(session_id, str) else None
    if session is None or session.user_id != user.id or session.revoked_at is not None:
        raise NotFound("No such live session for this user.")
    revoke_session(session, reason="revoked_by_admin")
    record_event("session_revoked", user_id=user.id, actor_id=actor_id, session_id=session.id, by="admin")


def allow_email(email, actor_id: int | None) -> AllowedEmail:
    """Allow ``email`` to sign in before its first login (with an allowlist set).

    Raises:
        InvalidRequest: ``email`` is not an email address.
    """
    if not isinstance(email, str) or not EMAIL.match(email.strip()):
        raise InvalidRequest("email must be an email address.")
    email = email.strip().lower()
    row = db.session.get(AllowedEmail, email)
    if row is None:
        row = AllowedEmail(email=email, created_at=utcnow(), created_by_id=actor_id)
        db.session.add(row)
        record_event("email_allowed", actor_id=actor_id, email=email)
    return row


def list_allowed_emails() -> list[dict]:
    rows = db.session.execute(sa.select(AllowedEmail).order_by(AllowedEmail.email)).scalars()
    return [{"email": row.email, "created_at": rfc3339(row.created_at)} for row in rows]


def list_roles() -> list[Role]:
    return list(db.session.execute(sa.select(Role).order_by(Role.name)).scalars())


def list_permissions() -> list[Permission]:
    return list(db.session.execute(sa.select(Permission).order_by(Permission.name)).scalars())


def create_role(name, description, permissions, actor_id: int | None) -> Role:
    """Create a role.

    Raises:
        InvalidRequest: bad or taken ``name``, bad ``description``, unknown
            ``permissions``.
    """
    if not isinstance(name, str) or not ROLE_NAME.match(name):
        raise InvalidRequest("name must be 1-64 characters: lower-case letters, digits, - or _, starting with a letter.")
    if db.session.execute(sa.select(Role).where(Role.name == name)).scalar_one_or_none() is not None:
        raise InvalidRequest(f"name: the role {name} already exists.")
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > 255:
        raise InvalidRequest("description must be a string of at most 255 characters.")
    role = Role(name=name, description=description, permissions=_permissions_by_name(permissions or []))
    db.session.add(role)
    db.session.flush()
    record_event("role_created", actor_id=actor_id, role=name, permissions=sorted(p.name for p in role.permissions))
    return role


def set_role_permissions(name: str, permissions, actor_id: int | None) -> Role:
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
    new = _permissions_by_name(permissions)
    if role.name == "admin" and "roles:write" not in {p.name for p in new}:
        raise InvalidRequest("permissions: the admin role must keep roles:write.")
    before = {p.name for p in role.permissions}
    role.permissions = new
    after = {p.name for p in new}
    if before != after:
        record_event("role_permissions_changed", actor_id=actor_id, role=name,
                     added=sorted(after - before), removed=sorted(before - after))
    return role


def search_audit(user_id=None, event=None, page: int = 1, per_page: int = 50) -> dict:
    """Page through audit events, newest first, filtered by user and event.

    Returns:
        dict: ``{"events": [{"id", "created_at", "event", "user_id",
        "actor_id", "email", "ip", "user_agent", "details"}], "page",
        "per_page", "total"}``.

    Raises:
        InvalidRequest: bad ``user_id`` or unknown ``event``.
    """
    from .audit import EVENTS

    statement = sa.select(AuditEvent)
    if user_id not in (None, ""):
        try:
            uid = int(user_id)
        except (TypeError, ValueError):
            raise InvalidRequest("user_id must be a whole number.") from None
        statement = statement.where(sa.or_(AuditEvent.user_id == uid, AuditEvent.actor_id == uid))
    if event not in (None, ""):
        if event not in EVENTS:
            raise InvalidRequest(f"event must be one of {', '.join(sorted(EVENTS))}.")
        statement = statement.where(AuditEvent.event == event)
    total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()
    rows = db.session.execute(statement.order_by(AuditEvent.id.desc()).limit(per_page).offset((page - 1) * per_page)).scalars()
    return {"events": [{
        "id": row.id, "created_at": rfc3339(row.created_at), "event": row.event,
        "user_id": None if row.user_id is None else str(row.user_id),
        "actor_id": None if row.actor_id is None else str(row.actor_id),
        "email": row.email, "ip": row.ip, "user_agent": row.user_agent, "details": row.details,
    } for row in rows], "page": page, "per_page": per_page, "total": total}

"""Audit log of security events (docs/interface.md, "Authorization").

Events name what happened (``login_succeeded``, ``login_failed``,
``refresh_token_reused``, ``logout``, ``logout_all``, ``session_revoked``,
``roles_changed``, ``user_activated``, ``user_deactivated``,
``email_allowed``, ``role_created``, ``role_permissions_changed``,
``escalation_refused``, ``service_account_created``,
``service_account_secret_rotated``, ``service_account_deleted``,
``client_authentication_failed``, ``user_registered``, ``password_set``). Details
are small JSON objects and never contain a token.
"""

from __future__ import annotations

from flask import has_request_context, request

from .clock import utcnow
from .extensions import db
from .models import AuditEvent, User

EVENTS = frozenset({
    "login_succeeded", "login_failed", "refresh_token_reused", "logout", "logout_all",
    "session_revoked", "roles_changed", "user_activated", "user_deactivated",
    "email_allowed", "role_created", "role_permissions_changed", "escalation_refused",
    "service_account_created", "service_account_secret_rotated", "service_account_deleted",
    "client_authentication_failed", "user_registered", "password_set",
})


def record_event(event: str, *, user_id: int | None = None, actor_id: int | None = None,
                 email: str | None = None, **details) -> AuditEvent:
    """Add an audit event to the current database transaction.

    The caller commits (so the event lands with the change it describes).
    IP and user agent come from the current request, if any.

    Args:
        event: one of ``EVENTS``.
        user_id: the account concerned, if known.
        actor_id: the admin who acted on ``user_id``, if not the user.
        email: the email concerned (e.g. of a refused login). When left out
            and ``user_id`` is given, the account's email at the time of the
            event, so that a row still names its person after the account is
            deleted or its email changes.
        **details: JSON-serialisable facts (reason, roles, session id...).

    Returns:
        AuditEvent: the pending row.
    """
    assert event in EVENTS, event
    if email is None and user_id is not None:
        user = db.session.get(User, user_id)
        email = user.email if user is not None else None
    ip = user_agent = ""
    if has_request_context():
        ip = (request.remote_addr or "")[:45]
        user_agent = (request.user_agent.string or "")[:255]
    row = AuditEvent(created_at=utcnow(), event=event, user_id=user_id, actor_id=actor_id,
                     email=(email or None) and email[:254], ip=ip, user_agent=user_agent, details=details)
    db.session.add(row)
    return row

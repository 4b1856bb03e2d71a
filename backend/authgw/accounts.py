"""Accounts: who may sign in, and creating or updating them at login.

Rules (docs/interface.md, "Browser login" and "Authorization"): the provider must
say ``email_verified``; with an allowlist set, the email must be listed in
``ALLOWED_EMAILS``, allowed ahead of time by an admin, or (for Google
Workspace accounts) have its hosted domain ``hd`` in
``ALLOWED_EMAIL_DOMAINS``; ``ADMIN_EMAILS`` always may and get ``admin``.
Disabled accounts may not sign in.
"""

from __future__ import annotations

import sqlalchemy as sa

from .audit import record_event
from .clock import utcnow
from .config import Settings
from .exceptions import LoginFailed
from .extensions import db
from .models import AllowedEmail, Role, User

DEFAULT_ROLE = "user"
ADMIN_ROLE = "admin"


def _email_verified(claims: dict) -> bool:
    value = claims.get("email_verified")
    # Some providers send the JSON string "true" (OpenID Connect Core §5.1 says boolean).
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_email_allowed(settings: Settings, email: str, hosted_domain: str | None) -> bool:
    """Tell whether ``email`` may sign in under the allowlist.

    Args:
        settings: the allowlist settings.
        email: verified email, lower case.
        hosted_domain: Google's ``hd`` claim (present only for Workspace
            accounts), lower case, or None.

    Returns:
        bool: True when no allowlist is configured, or the email is allowed.
    """
    if email in settings.admin_emails:
        return True
    if not settings.allowed_emails and not settings.allowed_email_domains:
        return True
    if email in settings.allowed_emails:
        return True
    if hosted_domain and hosted_domain in settings.allowed_email_domains and email.endswith("@" + hosted_domain):
        return True
    return db.session.get(AllowedEmail, email) is not None


def provision_user(settings: Settings, claims: dict) -> User:
    """Create or update the user an ID token describes. The caller commits.

    Args:
        settings: allowlist and admin settings.
        claims: verified ID token claims (``iss``, ``sub``, ``email``,
            ``email_verified``, ``name``, ``picture``, ``hd``).

    Returns:
        User: the active user, with ``user`` (and maybe ``admin``) roles.

    Raises:
        LoginFailed: ``invalid_id_token`` (no email), ``email_not_verified``,
            ``not_allowed``, ``account_disabled``.
    """
    email = claims.get("email")
    if (not isinstance(email, str) or "@" not in email or len(email) > 254
            or not all(0x21 <= ord(ch) < 0x7F for ch in email)):
        # Printable ASCII only: the email travels in X-Auth-Email headers.
        raise LoginFailed("invalid_id_token", "ID token without a usable email")
    email = email.strip().lower()
    if not _email_verified(claims):
        raise LoginFailed("email_not_verified", f"unverified email {email}")
    hosted_domain = claims.get("hd")
    hosted_domain = hosted_domain.lower() if isinstance(hosted_domain, str) else None
    if not is_email_allowed(settings, email, hosted_domain):
        raise LoginFailed("not_allowed", f"{email} is not on the allowlist")

    issuer, subject = str(claims.get("iss") or ""), str(claims["sub"])
    now = utcnow()
    user = db.session.execute(
        sa.select(User).where(User.issuer == issuer[:255], User.subject == subject[:255])
    ).scalar_one_or_none()
    if user is not None and not user.active:
        raise LoginFailed("account_disabled", f"user {user.id} is disabled")
    holder = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if holder is not None and holder is not user:
        # Another account (another provider or a recreated Google account)
        # held this email. Accounts are never merged by email: that would let
        # any provider asserting the email take the account over. The old
        # account keeps its roles but loses the address.
        holder.email = None
        db.session.flush()
    if user is None:
        user = User(issuer=issuer[:255], subject=subject[:255], created_at=now, active=True)
        db.session.add(user)
        user.roles.append(_role(DEFAULT_ROLE))
    user.email = email
    user.name = str(claims.get("name") or email.split("@")[0])[:255]
    picture = claims.get("picture")
    user.picture = picture[:2048] if isinstance(picture, str) and picture.startswith(("https://", "data:image/")) else None
    user.last_login_at = now
    if email in settings.admin_emails and ADMIN_ROLE not in user.role_names:
        user.roles.append(_role(ADMIN_ROLE))
        db.session.flush()
        record_event("roles_changed", user_id=user.id, email=email, added=[ADMIN_ROLE], reason="ADMIN_EMAILS")
    db.session.flush()
    return user


def _role(name: str) -> Role:
    role = db.session.execute(sa.select(Role).where(Role.name == name)).scalar_one_or_none()
    if role is None:  # the migration seeds it; recreate if an operator deleted it
        role = Role(name=name, description="")
        db.session.add(role)
    return role

"""Accounts: who may sign in, and creating or updating them at login.

Rules (docs/interface.md, "Browser login" and "Authorization"): the provider must
say ``email_verified``; with an allowlist set, the email must be listed in
``ALLOWED_EMAILS``, allowed ahead of time by an admin, or (for Google
Workspace accounts) have its hosted domain ``hd`` in
``ALLOWED_EMAIL_DOMAINS``; ``ADMIN_EMAILS`` always may and get ``admin``.
Disabled accounts may not sign in. Local accounts (email + password,
``PASSWORD_LOGIN=on``) follow the same rules at sign-in, except that
``ADMIN_EMAILS`` gives them ``admin`` only through the operator's
``flask users set-password`` (docs/local-accounts.md).
"""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa

from .audit import record_event
from .clock import utcnow
from .config import Settings
from .exceptions import AccountDisabled, Conflict, InvalidGrant, InvalidRequest, LoginFailed, NotAllowed
from .extensions import db
from .models import AllowedEmail, Role, User

DEFAULT_ROLE = "user"
ADMIN_ROLE = "admin"


def _email_verified(claims: dict) -> bool:
    value = claims.get("email_verified")
    # Some providers send the JSON string "true" (OpenID Connect Core §5.1 says boolean).
    return value is True or (isinstance(value, str) and value.lower() == "true")


def email_domain(address: str) -> str:
    """The domain of a normalised email address (after its last ``@``)."""
    return address.rsplit("@", 1)[1]


def is_email_allowed(settings: Settings, email: str, hosted_domain: str | None) -> bool:
    """Tell whether ``email`` may sign in under the allowlist.

    Args:
        settings: the allowlist settings.
        email: verified email, lower case.
        hosted_domain: the domain that vouches for the address, lower
            case, or None: Google's ``hd`` claim (present only for Workspace
            accounts) at sign-in with Google; for a local account, which
            nobody vouches for, its own domain (``email_domain``), as
            docs/local-accounts.md says.

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
    _grant_admin_if_listed(settings, user, email)
    db.session.flush()
    return user


def _grant_admin_if_listed(settings: Settings, user: User, email: str) -> None:
    """Give ``user`` the admin role when ``email`` is in ADMIN_EMAILS and it
    lacks it, audited as ``roles_changed`` (docs/authorization.md): at each
    provider sign-in, and for a local account at ``set_local_password``."""
    if email in settings.admin_emails and ADMIN_ROLE not in user.role_names:
        user.roles.append(_role(ADMIN_ROLE))
        db.session.flush()
        record_event("roles_changed", user_id=user.id, email=email, added=[ADMIN_ROLE], reason="ADMIN_EMAILS")


def _role(name: str) -> Role:
    role = db.session.execute(sa.select(Role).where(Role.name == name)).scalar_one_or_none()
    if role is None:  # the migration seeds it; recreate if an operator deleted it
        role = Role(name=name, description="")
        db.session.add(role)
    return role


#: ``users.issuer`` of local accounts (email + password, docs/local-accounts.md):
#: no OpenID provider vouches for them.
LOCAL_ISSUER = "local"
EMAIL_SHAPE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")


def normalise_email(email: str) -> str | None:
    """Return ``email`` trimmed and in lower case, or None when it is not a
    printable-ASCII email address (it travels in ``X-Auth-Email`` headers)."""
    if not isinstance(email, str):
        return None
    email = email.strip().lower()
    if len(email) > 254 or not all(0x21 <= ord(ch) < 0x7F for ch in email) or not EMAIL_SHAPE.match(email):
        return None
    return email


def register_local_account(settings: Settings, email: str, password: str, name: str = "") -> User:
    """Create a local account (``POST /api/auth/register``). The caller commits.

    The email is not verified (docs/local-accounts.md), so registration
    never hands out ``admin``: an address of ``ADMIN_EMAILS`` gets its
    account from an operator (``flask users set-password``), and the role
    at its first sign-in, as with Google.

    Args:
        settings: allowlist and admin settings.
        email, password, name: as sent; ``name`` defaults to the email's
            local part.

    Returns:
        User: the new active account with the ``user`` role.

    Raises:
        InvalidRequest: not an email address, or the password breaks a
            rule (said in words).
        NotAllowed: the allowlist does not list the email, or it is one of
            ``ADMIN_EMAILS``.
        Conflict: an account already has this email.
    """
    from .passwords import hash_password, password_problem

    address = normalise_email(email)
    if address is None:
        raise InvalidRequest("email must be an email address.")
    if address in settings.admin_emails:
        raise NotAllowed("An administrator's account is created by an operator, not by registration.")
    if not is_email_allowed(settings, address, email_domain(address)):
        raise NotAllowed("This email address may not register here.")
    if db.session.execute(sa.select(User.id).where(User.email == address)).first() is not None:
        raise Conflict("email: an account with this email already exists; sign in instead.")
    problem = password_problem(password, user_inputs=(address, address.split("@")[0], name))
    if problem:
        raise InvalidRequest(problem + ".")
    now = utcnow()
    user = User(issuer=LOCAL_ISSUER, subject=secrets.token_urlsafe(16), email=address,
                name=(name.strip() or address.split("@")[0])[:255], created_at=now, active=True,
                password_hash=hash_password(password))
    user.roles.append(_role(DEFAULT_ROLE))
    db.session.add(user)
    db.session.flush()
    record_event("user_registered", user_id=user.id, email=address)
    return user


def set_local_password(settings: Settings, email: str, password: str) -> tuple[User, bool]:
    """Set the password of the account with ``email``, creating a local
    account when there is none (``flask users set-password``: the operator
    vouches for the address, so an ``ADMIN_EMAILS`` address gets ``admin``
    here, the only place a local account gets it from that list). The
    caller commits.

    Returns:
        (user, created): the account and whether it was created.

    Raises:
        InvalidRequest: not an email address, or the password breaks a rule.
    """
    from .passwords import hash_password, password_problem

    address = normalise_email(email)
    if address is None:
        raise InvalidRequest("email must be an email address.")
    user = db.session.execute(sa.select(User).where(User.email == address)).scalar_one_or_none()
    problem = password_problem(password, user_inputs=(address, address.split("@")[0], user.name if user else ""))
    if problem:
        raise InvalidRequest(problem + ".")
    created = user is None
    if created:
        user = User(issuer=LOCAL_ISSUER, subject=secrets.token_urlsafe(16), email=address,
                    name=address.split("@")[0], created_at=utcnow(), active=True)
        user.roles.append(_role(DEFAULT_ROLE))
        db.session.add(user)
    user.password_hash = hash_password(password)
    # A new password ends the sessions opened with the old one.
    from .sessions import revoke_user_sessions

    db.session.flush()
    revoked = 0 if created else revoke_user_sessions(user.id, reason="password_set")
    record_event("password_set", user_id=user.id, email=address, created=created, sessions_revoked=revoked)
    _grant_admin_if_listed(settings, user, address)
    return user, created


def authenticate_local(settings: Settings, email: str, password: str) -> User:
    """Check an email and password (``POST /api/auth/login/password``) and
    prepare the account for a new session, as ``provision_user`` does at a
    provider sign-in: allowlist, disabled accounts, ``last_login_at``; but
    not ``ADMIN_EMAILS``, which only ``set_local_password`` (the operator)
    applies to a local account. The caller commits.

    A wrong password, an unknown email and an account without a password
    raise the same ``InvalidGrant``, after an Argon2 verification each
    (against a dummy hash when there is no account), so neither the answer
    nor its time tells which.

    Raises:
        InvalidGrant: no such email, no password, or a wrong password.
        NotAllowed: the right password, but the allowlist no longer lists the email.
        AccountDisabled: the right password, but the account is disabled.
    """
    from .passwords import hash_password, verify_password

    address = normalise_email(email)
    user = None
    if address is not None:
        user = db.session.execute(sa.select(User).where(User.email == address)).scalar_one_or_none()
    ok, needs_rehash = verify_password(user.password_hash if user is not None else None, password)
    if not ok:
        raise InvalidGrant("The email or password is wrong.")
    if not is_email_allowed(settings, address, email_domain(address)):
        raise NotAllowed("This email address may not sign in here.")
    if not user.active:
        raise AccountDisabled()
    if needs_rehash:
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    # No ADMIN_EMAILS grant here: nobody vouched for a registered address,
    # so listing it later must not make its registrant an admin. The
    # operator's `flask users set-password` grants it (docs/local-accounts.md).
    db.session.flush()
    return user

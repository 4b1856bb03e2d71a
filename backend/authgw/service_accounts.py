"""Service accounts: machine clients of the client credentials grant (RFC 6749 §4.4).

A service account is a ``client_id`` (``sa_`` + 16 random URL-safe
characters, not secret) and a client secret (256 random bits from
``secrets``, shown once). Only the secret's SHA-256 is stored: the secret
is a uniformly random 256-bit value, so a fast hash is as hard to invert
as the secret is to guess, and a slow password hash (Argon2) would only
make every token request cost tens of milliseconds of CPU
(docs/machine-clients.md "How secrets are kept"). Secrets are compared
with ``hmac.compare_digest``.

The operations follow ``admin.py``'s conventions: an ``admin.Actor`` (the
API) or None (the ``flask`` CLI, unrestricted), validation first, an audit
event, the commit left to the caller. Handing out a role needs every
permission it grants (docs/authorization.md "No escalation").

Rotating a secret or deleting an account writes a cutoff for its
``client_id`` (``service_account_cutoffs``): the revocation feed's
``subjects`` then refuses the access tokens issued before it, within
seconds, at the gateway, in services and here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from .admin import _require_holds, roles_by_name
from .audit import record_event
from .clock import rfc3339, utcnow
from .cutoffs import latest_of, lock_holder, new_cutoff
from .deadlocks import retry_on_deadlock
from .exceptions import InvalidRequest, NotFound
from .extensions import db
from .models import ServiceAccount, ServiceAccountCutoff, service_account_roles
from .schemas import ServiceAccountCreate, ServiceAccountSummary, parse
from .sessions import GRANT_COLUMNS, fold_grants, join_grants
from .tokens import issue_access_token

#: Random bytes in a client secret (256 bits).
CLIENT_SECRET_BYTES = 32
#: Longest client secret accepted, in characters (a generated one has 43).
MAX_CLIENT_SECRET_LENGTH = 256
#: Shape of a client id: ``sa_`` then 16 URL-safe base64 characters.
CLIENT_ID_PATTERN = re.compile(r"^sa_[A-Za-z0-9_-]{16}$")
#: Prefix of the ``sid`` claim of client tokens (``client:<client_id>``): the
#: claim is required of every token (docs/interface.md), a client has no session.
CLIENT_SID_PREFIX = "client:"


def new_client_id() -> str:
    """Return a fresh client id (``sa_`` + 12 random bytes, URL-safe base64)."""
    return "sa_" + secrets.token_urlsafe(12)


def new_client_secret() -> str:
    """Return a fresh client secret: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def hash_client_secret(secret: str) -> str:
    """Return the hex SHA-256 of a client secret, the only form stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


#: Compared against when the client id is unknown, so both cases cost the same.
_NO_SUCH_HASH = hash_client_secret(secrets.token_urlsafe(CLIENT_SECRET_BYTES))


def _by(actor) -> dict:
    """Audit fields naming who acted: a user (``actor_id``), a service
    account (``actor_client_id`` in the details), or the CLI (neither)."""
    by = {"actor_id": getattr(actor, "id", None)}
    if getattr(actor, "client_id", None):
        by["actor_client_id"] = actor.client_id
    return by


def summary(account: ServiceAccount) -> dict:
    """Return the listing view of an account (``schemas.ServiceAccountSummary``), never its secret."""
    return ServiceAccountSummary(
        client_id=account.client_id, name=account.name, roles=account.role_names,
        permissions=account.permission_names, created_at=rfc3339(account.created_at),
        created_by=None if account.created_by_id is None else str(account.created_by_id),
        secret_rotated_at=rfc3339(account.secret_rotated_at), last_used_at=rfc3339(account.last_used_at),
    ).model_dump()


def list_service_accounts() -> list[ServiceAccount]:
    """Return every service account, oldest first."""
    return list(db.session.execute(sa.select(ServiceAccount).order_by(ServiceAccount.id)).scalars())


def get_service_account(client_id) -> ServiceAccount:
    """Return the account ``client_id``.

    Raises:
        NotFound: no such account (or not a client id at all).
    """
    account = None
    if isinstance(client_id, str) and CLIENT_ID_PATTERN.match(client_id):
        # Locked (a rotation or deletion is about to set a cutoff,
        # cutoffs.lock_holder) and read as committed last, not from a snapshot.
        account = db.session.execute(
            sa.select(ServiceAccount).where(ServiceAccount.client_id == client_id)
            .with_for_update()).scalar_one_or_none()
    if account is None:
        raise NotFound("No such service account.")
    return account


def create_service_account(body, actor) -> tuple[ServiceAccount, str]:
    """Create a service account holding ``roles``; return it and its secret.

    Args:
        body (Mapping | schemas.ServiceAccountCreate): ``{"name", "roles"}``.
        actor (admin.Actor | None): the caller (None: the CLI).

    Returns:
        (account, client_secret): the pending row and the raw secret, which
        is never stored and cannot be shown again. The caller commits.

    Raises:
        InvalidRequest: bad name, roles not an array, an unknown role.
        InsufficientScope: a role grants a permission the actor lacks
            (audited as ``escalation_refused``).
    """
    spec = body if isinstance(body, ServiceAccountCreate) else parse(ServiceAccountCreate, body)
    name = spec.name.strip()
    if not name or not name.isprintable():
        raise InvalidRequest("name must be 1-255 printable characters.")
    roles = roles_by_name(spec.roles)
    _require_holds(actor, {perm.name for role in roles for perm in role.permissions}, "create_service_account",
                   roles=[role.name for role in roles])
    secret = new_client_secret()
    account = ServiceAccount(client_id=new_client_id(), name=name, secret_hash=hash_client_secret(secret),
                             created_at=utcnow(), created_by_id=getattr(actor, "id", None), roles=roles)
    db.session.add(account)
    db.session.flush()
    record_event("service_account_created", client_id=account.client_id, name=name, roles=account.role_names,
                 **_by(actor))
    return account, secret


def rotate_secret(client_id, actor) -> tuple[ServiceAccount, str]:
    """Give ``client_id`` a new secret; the old one stops working at once and
    the account's access tokens issued before now are refused within seconds.

    Returns:
        (account, client_secret): the raw new secret, shown once. The caller commits.

    Raises:
        NotFound: no such account.
        InsufficientScope: the account holds a permission the actor lacks.
    """
    account = get_service_account(client_id)
    _require_holds(actor, account.permission_names, "rotate_service_account_secret", client_id=account.client_id)
    secret = new_client_secret()
    account.secret_hash = hash_client_secret(secret)
    account.secret_rotated_at = utcnow()
    _set_cutoff(account)
    record_event("service_account_secret_rotated", client_id=account.client_id, **_by(actor))
    return account, secret


def delete_service_account(client_id, actor) -> None:
    """Delete ``client_id``; its access tokens are refused within seconds. The caller commits.

    Raises:
        NotFound: no such account.
        InsufficientScope: the account holds a permission the actor lacks.
    """
    account = get_service_account(client_id)
    _require_holds(actor, account.permission_names, "delete_service_account", client_id=account.client_id)
    _set_cutoff(account)
    record_event("service_account_deleted", client_id=account.client_id, name=account.name, **_by(actor))
    db.session.delete(account)


def _set_cutoff(account: ServiceAccount) -> None:
    """Refuse the tokens of ``account`` issued before now (revocation feed ``subjects``)."""
    client_id = account.client_id
    lock_holder(ServiceAccount, account.id)
    row = db.session.get(ServiceAccountCutoff, client_id)
    cutoff = new_cutoff(lambda: latest_of([row.not_before if row is not None else 0,
                                           *(role.tokens_valid_after for role in account.roles)]))
    if row is None:
        db.session.add(ServiceAccountCutoff(client_id=client_id, not_before=cutoff))
    else:
        row.not_before = max(row.not_before, cutoff)


def purge_cutoffs(window: float) -> int:
    """Delete cutoffs older than ``window`` seconds (they only concern expired
    tokens). The caller commits. Returns how many rows were deleted."""
    horizon = int(utcnow().timestamp() - window)
    return db.session.execute(sa.delete(ServiceAccountCutoff).where(ServiceAccountCutoff.not_before < horizon)).rowcount


def authenticate_client(client_id: str, client_secret: str) -> ServiceAccount | None:
    """Return the account whose id and secret these are, or None.

    The comparison is constant-time (``hmac.compare_digest`` of the
    SHA-256 hashes), and an unknown ``client_id`` is compared against a
    dummy hash so both failures take as long.
    """
    if (not isinstance(client_id, str) or not isinstance(client_secret, str)
            or len(client_secret) > MAX_CLIENT_SECRET_LENGTH):
        return None
    account = None
    if CLIENT_ID_PATTERN.match(client_id):
        # Locked until the token is minted and the request commits: a
        # rotation or deletion (which locks the row first, cutoffs.lock_holder)
        # waits for it, so its cutoff is later than the token's iat; one
        # committed first is seen here (a locking read sees the latest row).
        # Exclusive, not shared: the request then updates last_used_at, and
        # two requests upgrading a shared lock would deadlock.
        account = db.session.execute(
            sa.select(ServiceAccount).where(ServiceAccount.client_id == client_id)
            .with_for_update()).scalar_one_or_none()
    presented = hash_client_secret(client_secret)
    expected = account.secret_hash if account is not None else _NO_SUCH_HASH
    if not hmac.compare_digest(presented, expected) or account is None:
        return None
    return account


@dataclass(frozen=True)
class ClientGrant:
    """What a client-credentials access token is issued for (RFC 9068 §2.2)."""

    client_id: str
    name: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    #: Unix seconds the token's ``iat`` must reach: the account's cutoff and its roles'.
    not_before: int = 0

    @property
    def session_id(self) -> str:
        return CLIENT_SID_PREFIX + self.client_id


def grant_for_client(account: ServiceAccount) -> ClientGrant:
    """Return the ``ClientGrant`` of an account with its current roles.

    Roles, permissions and cutoff are read with share locks, held until the
    caller commits after minting (``sessions.read_grant`` says why): a
    permission removal from one of the roles either waits for this request
    or is seen by it.
    """
    rows = db.session.execute(
        sa.select(*GRANT_COLUMNS)
        .select_from(join_grants(service_account_roles, service_account_roles.c.role_id))
        .where(service_account_roles.c.service_account_id == account.id).with_for_update(read=True)
    ).all()
    cutoff = db.session.execute(
        sa.select(ServiceAccountCutoff.not_before).where(ServiceAccountCutoff.client_id == account.client_id)
        .with_for_update(read=True)).scalar()
    roles, permissions, role_cutoff = fold_grants(rows)
    return ClientGrant(client_id=account.client_id, name=account.name, roles=roles, permissions=permissions,
                       not_before=max(cutoff or 0, role_cutoff))


def mint_client_token(grant: ClientGrant, key_set, settings, *, now: float | None = None) -> tuple[str, int]:
    """Sign the access token of a client credentials grant.

    The claims are those of every access token (docs/interface.md "Access
    token", same keys, ``typ: at+jwt``) with ``sub`` = ``client_id`` = the
    client id (RFC 9068 §2.2), ``sid`` = ``client:<client_id>``, ``email``
    empty and ``name`` the account's name.

    Args:
        grant: the client and its roles and permissions.
        key_set (keys.KeySet): ``key_set.signing_key`` signs.
        settings (config.Settings): ``jwt_issuer``, ``jwt_audience``,
            ``client_credentials_token_ttl`` (seconds).
        now: Unix seconds (default: the current time); ``iat`` is at least
            ``grant.not_before``.

    Returns:
        (token, expires_in): the compact JWS and its lifetime in seconds.
    """
    ttl = settings.client_credentials_token_ttl
    token, _claims = issue_access_token(
        key_set, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl=ttl, subject=grant.client_id,
        session_id=grant.session_id, email="", name=grant.name, roles=grant.roles, permissions=grant.permissions,
        now=max(time.time() if now is None else now, grant.not_before), client_id=grant.client_id,
    )
    return token, ttl


@retry_on_deadlock
def issue_client_token(client_id: str, client_secret: str, key_set, settings) -> tuple[str, int] | None:
    """The client credentials grant's one transaction (RFC 6749 §4.4):
    authenticate the client, read its grant, mint, note ``last_used_at``,
    commit. The account's row stays locked until the commit, after the
    minting (``authenticate_client``), so a rotation cannot slip between.

    Args:
        client_id, client_secret: as presented (any strings).
        key_set (keys.KeySet), settings (config.Settings): see ``mint_client_token``.

    Returns:
        (access_token, expires_in seconds), or None when the client is
        unknown or the secret wrong (nothing written; the caller records
        the failure).

    Raises:
        sqlalchemy.exc.OperationalError: the database is unreachable, or
            broke a deadlock on every attempt (``deadlocks``).
    """
    account = authenticate_client(client_id, client_secret)
    if account is None:
        db.session.rollback()
        return None
    issued = mint_client_token(grant_for_client(account), key_set, settings)
    account.last_used_at = utcnow()
    db.session.commit()
    return issued


def is_client_subject(subject: str) -> bool:
    """Tell whether a token ``sub`` names a service account (not a user id)."""
    return isinstance(subject, str) and bool(CLIENT_ID_PATTERN.match(subject))

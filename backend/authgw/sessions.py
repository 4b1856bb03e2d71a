"""Sessions and refresh tokens: open, rotate, revoke.

A session is one signed-in browser or device. Its refresh tokens are
opaque 256-bit random strings stored only as SHA-256 hashes, rotated on
every use (RFC 9700 §4.14.2). Presenting a spent token is reuse: the whole
session is revoked, except within a short grace window after the token was
spent, where several tabs of one browser refreshing at once each get a
fresh token (docs/interface.md, "Refresh token").
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken as InvalidFernetToken

from .audit import record_event
from .clock import utcnow
from .deadlocks import retry_on_deadlock
from .exceptions import InvalidGrant
from .extension import maybe_current_authgw
from .login_state import derive_fernet
from .extensions import db
from .models import Permission, RefreshToken, Role, Session, User, role_permissions, user_roles
from .observability import count_refresh

#: Random bytes in a refresh token (docs/interface.md: at least 256 bits).
REFRESH_TOKEN_BYTES = 32
#: Longest refresh token string accepted, in characters.
MAX_REFRESH_TOKEN_LENGTH = 256


def hash_refresh_token(raw: str) -> str:
    """Return the hex SHA-256 of a refresh token, the only form stored."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _new_refresh_token(session_id: str, now: datetime, ttl: int) -> str:
    """Insert a new refresh token of ``session_id`` (its hash only); return it raw."""
    raw = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    db.session.execute(sa.insert(RefreshToken.__table__).values(
        session_id=session_id, token_hash=hash_refresh_token(raw), created_at=now, expires_at=now + timedelta(seconds=ttl)))
    return raw


@functools.lru_cache(maxsize=4)
def _sealer(secret_key: str) -> Fernet:
    """Fernet (AES-128-CBC + HMAC-SHA256) keyed by HKDF-SHA256 of ``SECRET_KEY``."""
    return derive_fernet(secret_key, b"authgw refresh-token successor")


def _seal(raw: str) -> str:
    return _sealer(_secret_key()).encrypt(raw.encode("ascii")).decode("ascii")


#: Successors ``_live_successor`` follows at most (a chain rotated more often
#: within one grace window is treated as reuse).
MAX_SUCCESSOR_STEPS = 16


def _live_successor(sealed: str | None) -> str | None:
    """The chain's live refresh token, raw, from a spent token's sealed
    successor, or None (treated as reuse).

    The successor may itself have been spent meanwhile (another tab
    refreshed with it): then its own successor, and so on, each row locked
    like the presented one. Handing out a spent successor would make the
    late client's next refresh a reuse, which revokes the session.
    """
    tokens = RefreshToken.__table__
    for _ in range(MAX_SUCCESSOR_STEPS):
        raw = _unseal(sealed)
        if raw is None:
            return None
        row = db.session.execute(
            sa.select(tokens.c.spent_at, tokens.c.successor_sealed)
            .where(tokens.c.token_hash == hash_refresh_token(raw)).with_for_update()
        ).one_or_none()
        if row is None:
            return None
        if row.spent_at is None:
            return raw
        sealed = row.successor_sealed
    return None


def _unseal(sealed: str | None) -> str | None:
    """The raw successor in ``sealed``, or None (absent, or sealed under
    another ``SECRET_KEY``). The grace window is judged by ``spent_at``, not
    by Fernet's own timestamp: replicas' clocks need not agree to the second."""
    if not sealed:
        return None
    try:
        return _sealer(_secret_key()).decrypt(sealed.encode("ascii")).decode("ascii")
    except InvalidFernetToken:
        return None


def _secret_key() -> str:
    state = maybe_current_authgw()
    if state is None:
        raise RuntimeError("refresh rotation needs the application's SECRET_KEY (create_app)")
    return state.settings.secret_key


def open_session(user: User, *, user_agent: str, ip: str, ttl: int, now: datetime | None = None) -> tuple[Session, str]:
    """Open a session for ``user`` and mint its first refresh token.

    Args:
        user: the signed-in, active user.
        user_agent: the browser's User-Agent (truncated to 255 characters).
        ip: client address (IPv4 or IPv6 text).
        ttl: refresh token lifetime, seconds.
        now: current time (default ``utcnow()``).

    Returns:
        (session, refresh_token): the pending session row and the raw token
        (never stored). The caller commits.
    """
    now = now or utcnow()
    session = Session(id=secrets.token_urlsafe(24), user_id=user.id, user=user, created_at=now, last_used_at=now,
                      expires_at=now + timedelta(seconds=ttl), user_agent=(user_agent or "")[:255], ip=(ip or "")[:45])
    db.session.add(session)
    db.session.flush()
    return session, _new_refresh_token(session.id, now, ttl)


@dataclass(frozen=True)
class Grant:
    """What an access token is issued for: a session and its user's identity,
    roles and permissions as read in one transaction (``tokens.mint_access_token``)."""

    session_id: str
    user_id: int
    email: str | None
    name: str | None
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    #: Unix seconds the token's ``iat`` must reach: the newest cutoff of the
    #: user and its roles (docs/authorization.md "Removing a privilege").
    not_before: int = 0
    #: Unix seconds (float) at which the grant was read under its share
    #: locks, before they were released: the ``iat`` of the tokens minted
    #: from it (None: the time of minting). See ``read_grant``.
    read_at: float | None = None


#: The columns ``fold_grants`` reads, from a join made by ``join_grants``.
GRANT_COLUMNS = (Role.__table__.c.name.label("role"), Permission.__table__.c.name.label("permission"),
                 Role.__table__.c.tokens_valid_after.label("role_cutoff"))


def join_grants(holder_roles, role_id):
    """``holder_roles`` (a user's or a service account's role table, or a
    join ending in it) outer-joined with each role (``role_id`` its column
    naming the role), the role's permissions and their names: one row per
    role and permission, the ``GRANT_COLUMNS``."""
    roles, permissions = Role.__table__, Permission.__table__
    return (holder_roles.outerjoin(roles, roles.c.id == role_id)
            .outerjoin(role_permissions, role_permissions.c.role_id == roles.c.id)
            .outerjoin(permissions, permissions.c.id == role_permissions.c.permission_id))


def fold_grants(rows) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """(roles, permissions, latest role cutoff) of the rows of a
    ``join_grants`` select: names sorted, cutoff in Unix seconds (0: none)."""
    return (tuple(sorted({row.role for row in rows if row.role is not None})),
            tuple(sorted({row.permission for row in rows if row.permission is not None})),
            max((row.role_cutoff or 0 for row in rows), default=0))


def read_grant(user_id: int, session_id: str):
    """Read a user's identity, roles and permissions for a token, with a
    locking read (``LOCK IN SHARE MODE`` on MariaDB, nothing on SQLite).

    A privilege removal locks the holder's row before it computes its
    cutoff (``cutoffs.lock_holder``), and a locking read sees the latest
    committed rows, not the transaction's snapshot. So either this read
    waits for the removal's commit and sees the privilege gone, or the
    removal waits for this transaction's end, and its cutoff (now rounded
    up) is later than ``read_at``, the ``iat`` of the tokens minted from
    what was read: they are refused. Without the locks a read made before
    the removal's commit could mint the removed privilege with an ``iat``
    at the cutoff (docs/authorization.md "Removing a privilege").

    Args:
        user_id: the user's id.
        session_id: the session the token is for (its ``sid``).

    Returns:
        tuple: (``active``, ``Grant``), or None when the user is gone. The
        locks last until the caller's transaction ends; the caller commits
        or rolls back.
    """
    users = User.__table__
    rows = db.session.execute(
        sa.select(users.c.active, users.c.email, users.c.name, users.c.tokens_valid_after.label("user_cutoff"),
                  *GRANT_COLUMNS)
        .select_from(join_grants(users.outerjoin(user_roles, user_roles.c.user_id == users.c.id),
                                 user_roles.c.role_id))
        .where(users.c.id == user_id).with_for_update(read=True)
    ).all()
    read_at = time.time()
    if not rows:
        return None
    first = rows[0]
    roles, permissions, role_cutoff = fold_grants(rows)
    grant = Grant(session_id=session_id, user_id=user_id, email=first.email, name=first.name, roles=roles,
                  permissions=permissions, not_before=max(first.user_cutoff or 0, role_cutoff), read_at=read_at)
    return first.active, grant


@retry_on_deadlock
def grant_for_session(session: Session) -> Grant:
    """Return the ``Grant`` of a session row with its user's current roles
    (``read_grant``), and end the transaction (it releases the locks; the
    caller has committed its changes already).

    Raises:
        InvalidGrant: the user is gone or was deactivated meanwhile.
    """
    read = read_grant(session.user_id, session.id)
    db.session.commit()
    if read is None or not read[0]:
        # Gone, or deactivated since the sign-in checked it (the read sees
        # the latest row): no token.
        raise InvalidGrant("This account is disabled.")
    return read[1]


@retry_on_deadlock
def rotate_refresh_token(raw: str, *, ttl: int, grace_seconds: int, now: datetime | None = None) -> tuple[Grant, str]:
    """Spend a refresh token and mint its successor (refresh token rotation).

    The hot path of ``POST /api/auth/refresh``: plain SQL statements on the
    tables (no ORM objects), eight round trips to the database in all. The
    token's row is locked (``SELECT ... FOR UPDATE`` on its unique hash), so
    concurrent refreshes of one token are decided one after the other; the
    user's row and grants are read with share locks (``read_grant``), so
    other sessions of the same user never wait for each other, only for a
    privilege removal being committed.

    Args:
        raw: the refresh token as presented.
        ttl: successor lifetime, seconds (the session is extended as much).
        grace_seconds: how long a just-spent token is still accepted.
        now: current time (default ``utcnow()``).

    Returns:
        (grant, new_refresh_token): the session's ``Grant`` (its user's
        identity, roles and permissions as of this transaction) and the
        successor token, raw. Committed.

    Raises:
        InvalidGrant: unknown, expired or revoked token, inactive user, or
            reuse after the grace window (which revokes the session first,
            RFC 9700 §4.14.2).
        sqlalchemy.exc.OperationalError: the database is unreachable, or
            broke a deadlock on each of ``deadlocks.ATTEMPTS`` runs (one
            whole transaction: it is run again after a deadlock).
    """
    now = now or utcnow()
    if not isinstance(raw, str) or not raw or len(raw) > MAX_REFRESH_TOKEN_LENGTH:
        raise InvalidGrant()
    tokens, sessions = RefreshToken.__table__, Session.__table__
    token = db.session.execute(
        sa.select(tokens.c.id, tokens.c.session_id, tokens.c.expires_at, tokens.c.spent_at, tokens.c.successor_sealed)
        .where(tokens.c.token_hash == hash_refresh_token(raw)).with_for_update()
    ).one_or_none()
    if token is None:
        db.session.rollback()
        count_refresh("unknown")
        raise InvalidGrant()
    owner = db.session.execute(
        sa.select(sessions.c.user_id, sessions.c.expires_at, sessions.c.revoked_at)
        .where(sessions.c.id == token.session_id)
    ).one()
    read = read_grant(owner.user_id, token.session_id)
    if owner.revoked_at is not None or token.expires_at <= now or owner.expires_at <= now or read is None:
        db.session.rollback()
        count_refresh("expired")
        raise InvalidGrant("The refresh token has expired or its session was revoked.")
    active, grant = read
    if not active:
        db.session.rollback()
        count_refresh("disabled")
        raise InvalidGrant("This account is disabled.")
    new_raw = None
    if token.spent_at is not None:
        # Inside the grace window the chain's live token (the successor
        # minted at the first presentation, or a later one) is handed out:
        # one chain per session, never a fork (docs/login-and-tokens.md
        # "Refresh token rotation").
        elapsed = (now - token.spent_at).total_seconds()
        new_raw = _live_successor(token.successor_sealed) if elapsed <= grace_seconds else None
        if new_raw is None:
            session = db.session.get(Session, token.session_id)
            revoke_session(session, reason="refresh_token_reuse", now=now)
            record_event("refresh_token_reused", user_id=session.user_id, email=grant.email, session_id=session.id)
            db.session.commit()
            count_refresh("reuse")
            raise InvalidGrant("The refresh token was already used; the session has been revoked.")
    db.session.execute(sa.update(sessions).where(sessions.c.id == token.session_id)
                       .values(last_used_at=now, expires_at=now + timedelta(seconds=ttl)))
    if new_raw is None:
        new_raw = _new_refresh_token(token.session_id, now, ttl)
        db.session.execute(sa.update(tokens).where(tokens.c.id == token.id)
                           .values(spent_at=now, successor_sealed=_seal(new_raw)))
    db.session.commit()
    count_refresh("grace" if token.spent_at is not None else "rotated")
    return grant, new_raw


def find_session_by_refresh_token(raw: str) -> Session | None:
    """Return the live session a refresh token belongs to, spent or not, or None."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_REFRESH_TOKEN_LENGTH:
        return None
    token = db.session.execute(
        sa.select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(raw))
    ).scalar_one_or_none()
    if token is None or token.session.revoked_at is not None:
        return None
    return token.session


def revoke_session(session: Session, *, reason: str, now: datetime | None = None) -> bool:
    """Mark ``session`` revoked (its refresh tokens die with it). The caller commits.

    Returns:
        bool: False if it was already revoked.
    """
    if session.revoked_at is not None:
        return False
    session.revoked_at = now or utcnow()
    session.revoked_reason = reason[:64]
    _feed_add(session.id)
    return True


def revoke_user_sessions(user_id: int, *, reason: str, now: datetime | None = None) -> int:
    """Revoke every live session of a user. The caller commits.

    Returns:
        int: how many sessions were revoked.
    """
    now = now or utcnow()
    # A locking read: the sessions committed last, not the transaction's
    # snapshot, so a sign-in that committed its session meanwhile (and then
    # saw the user still active) is revoked too.
    sessions = db.session.execute(
        sa.select(Session).where(Session.user_id == user_id, Session.revoked_at.is_(None)).with_for_update()
    ).scalars().all()
    return sum(revoke_session(session, reason=reason, now=now) for session in sessions)


def live_sessions(user_id: int, now: datetime | None = None) -> list[Session]:
    """Return the user's unrevoked, unexpired sessions, newest use first."""
    now = now or utcnow()
    return list(db.session.execute(
        sa.select(Session).where(Session.user_id == user_id, Session.revoked_at.is_(None), Session.expires_at > now)
        .order_by(Session.last_used_at.desc())
    ).scalars())


def purge_expired(*, retention: int = 86400, now: datetime | None = None, batch: int = 5000) -> dict[str, int]:
    """Delete expired or long-revoked sessions and spent refresh tokens.

    Keeps tables bounded. Rows are deleted in batches so a large purge never
    holds long locks.

    Args:
        retention: seconds (>= 0) to keep revoked sessions and spent tokens
            (the revocation feed and reuse detection need recent ones).
            Revoked sessions are kept at least for the revocation feed's
            window whatever ``retention`` says: their rows are how other
            workers learn that the session's live access tokens are refused.
        now: current time (default ``utcnow()``).
        batch: rows per DELETE statement.

    Returns:
        dict: ``{"sessions": n, "refresh_tokens": m}`` rows deleted
        (``m`` includes the tokens deleted with their sessions).

    Raises:
        ValueError: negative ``retention`` or ``batch`` below 1.
    """
    if retention < 0 or batch < 1:
        raise ValueError("retention must be >= 0 and batch >= 1")
    now = now or utcnow()
    horizon = now - timedelta(seconds=retention)
    feed = _revocation_feed()
    revoked_horizon = now - timedelta(seconds=max(retention, feed.window if feed is not None else 0))
    deleted = {"sessions": 0, "refresh_tokens": 0}
    token_filter = sa.or_(RefreshToken.expires_at < now, RefreshToken.spent_at < horizon)
    session_filter = sa.or_(Session.expires_at < now, Session.revoked_at < revoked_horizon)
    # A sealed successor only serves the grace window: never keep it longer.
    db.session.execute(sa.update(RefreshToken).where(RefreshToken.successor_sealed.is_not(None),
                                                     RefreshToken.spent_at < now - timedelta(seconds=60))
                       .values(successor_sealed=None))
    db.session.commit()
    for key, model, condition in (("refresh_tokens", RefreshToken, token_filter), ("sessions", Session, session_filter)):
        while True:
            ids = db.session.execute(sa.select(model.id).where(condition).limit(batch)).scalars().all()
            if not ids:
                break
            if model is Session:
                result = db.session.execute(sa.delete(RefreshToken).where(RefreshToken.session_id.in_(ids)))
                deleted["refresh_tokens"] += result.rowcount
            db.session.execute(sa.delete(model).where(model.id.in_(ids)))
            db.session.commit()
            deleted[key] += len(ids)
    return deleted


def _revocation_feed():
    """This app's revocation feed, or None outside ``create_app`` (bare model tests)."""
    state = maybe_current_authgw()
    return state.revocation_feed if state is not None else None


def _feed_add(session_id: str) -> None:
    feed = _revocation_feed()
    if feed is not None:
        feed.add(session_id)

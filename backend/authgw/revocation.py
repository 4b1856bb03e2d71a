"""The revocation feed: revoked sessions and privilege changes.

A revoked session's access tokens are refused within 5 s (docs/interface.md,
"Tokens"), long before their ``exp``. The database is the source:
``read_snapshot`` reads what was revoked in the last ``window`` seconds (an
older access token has expired anyway); ``GET /api/internal/revocations``
serves it to gateways and services, and ``RevocationFeed`` polls it for this
process. The rules that turn a snapshot into a verdict are the kit's
(``authgw_kit.RevocationSnapshot.refusal``), shared with every service.
"""

from __future__ import annotations

import time
from datetime import timedelta

import sqlalchemy as sa

from authgw_kit import InvalidToken, RevocationList

from .clock import utcnow
from .models import Role, ServiceAccountCutoff, Session, User


def read_snapshot(connection, window: float, now=None) -> dict:
    """Read the revocation snapshot that gateways and services poll.

    The shape of ``GET /api/internal/revocations`` (docs/login-and-tokens.md
    "The revocation feed"): a full snapshot, never a diff, so that a poller
    needs no clock agreement with this host.

    Args:
        connection: SQLAlchemy connection (its own, outside any request
            transaction).
        window: seconds covered: a revocation older than this concerns
            only expired tokens (access-token TTL + leeway).
        now: aware UTC datetime (default ``utcnow()``).

    Returns:
        dict: ``{"generated_at": float, "window": int, "sessions": {sid:
        revoked_at}, "subjects": {sub: not_before}, "roles": {role:
        not_before}}``; times are Unix seconds (ints except
        ``generated_at``).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    now = now or utcnow()
    since = now - timedelta(seconds=window)
    horizon = int(since.timestamp())
    rows = connection.execute(
        sa.select(Session.id, Session.revoked_at).where(Session.revoked_at >= since)
    ).all()
    subjects = connection.execute(
        sa.select(User.id, User.tokens_valid_after).where(User.tokens_valid_after >= horizon)
    ).all()
    roles = connection.execute(
        sa.select(Role.name, Role.tokens_valid_after).where(Role.tokens_valid_after >= horizon)
    ).all()
    # Service accounts' tokens have sub = client_id (docs/machine-clients.md):
    # a rotated secret or a deleted account is a subject cutoff too.
    clients = connection.execute(
        sa.select(ServiceAccountCutoff.client_id, ServiceAccountCutoff.not_before)
        .where(ServiceAccountCutoff.not_before >= horizon)
    ).all()
    snapshot = {
        "generated_at": now.timestamp(),
        "window": int(window),
        "sessions": {sid: int(revoked_at.timestamp()) for sid, revoked_at in rows},
        "subjects": {**{str(user_id): cutoff for user_id, cutoff in subjects}, **dict(clients)},
        "roles": dict(roles),
    }
    return snapshot


class RevocationFeed(RevocationList):
    """The backend's revocation list: the kit's ``RevocationList`` fed from
    the database, plus revocations made by this process, effective at once.

    A daemon thread per worker reads ``read_snapshot`` every
    ``poll_interval`` seconds; requests never wait on the database for it
    (a hung database leaves token-only routes answering). When reads fail,
    the last snapshot is trusted for ``trust_window`` seconds, then every
    check answers ``503`` (docs/login-and-tokens.md "The revocation feed").

    Args:
        window: seconds a revocation matters (access-token TTL + leeway).
        poll_interval: seconds between two reads of the database.
        trust_window: seconds the last snapshot is trusted while reads fail.
        background: poll in a thread (False: only ``refresh_now``; tests).
    """

    def __init__(self, window: float, poll_interval: float = 1.0, trust_window: float = 60.0,
                 background: bool = True):
        super().__init__(fetch=self._read, poll_interval=poll_interval, trust_window=trust_window,
                         background=background)
        self.window = window
        self._engine = None
        self._local: dict[str, float] = {}  # sid -> Unix seconds, revoked by this process

    def bind(self, engine) -> None:
        """Read from ``engine`` (the application's SQLAlchemy engine)."""
        self._engine = engine

    def _read(self) -> dict:
        if self._engine is None:
            raise RuntimeError("revocation feed not bound to an engine")
        with self._engine.connect() as connection:
            return read_snapshot(connection, self.window)

    def add(self, session_id: str) -> None:
        """Record a revocation made by this process, effective at once here
        (other processes learn it from the database within ``poll_interval``)."""
        now = time.time()
        self._local = {sid: ts for sid, ts in self._local.items() if ts >= now - self.window}
        self._local[session_id] = now

    def check(self, claims) -> None:
        """Refuse revoked claims (kit rules, then this process's own revocations).

        Raises:
            authgw_kit.InvalidToken: revoked.
            authgw_kit.VerifierUnavailable: the list is older than the trust window.
        """
        if claims.get("sid") in self._local:
            raise InvalidToken("The session of this access token was revoked.")
        super().check(claims)

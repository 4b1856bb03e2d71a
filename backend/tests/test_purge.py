"""``authgw.sessions.purge_expired``: bounded, batched deletion of dead
sessions and refresh tokens that keeps what reuse detection and the
revocation feed still need."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from authgw.extension import AuthGW
from authgw.exceptions import InvalidGrant
from authgw.extensions import db as _db
from authgw.models import RefreshToken, Session, User
from authgw.sessions import (hash_refresh_token, open_session, purge_expired, revoke_session,
                             rotate_refresh_token)

from .test_sessions import assert_refused

DAY = 86400
T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def ctx(app):
    """An application context for direct calls to ``authgw.sessions``."""
    with app.app_context():
        yield
        _db.session.remove()


@pytest.fixture
def user(ctx, make_user):
    return _db.session.get(User, make_user())


def open_at(user: User, when: datetime, ttl: int = 30 * DAY) -> tuple[str, str]:
    row, raw = open_session(user, user_agent="pytest", ip="192.0.2.1", ttl=ttl, now=when)
    _db.session.commit()
    return row.id, raw


def revoke_at(session_id: str, when: datetime) -> None:
    revoke_session(_db.session.get(Session, session_id), reason="logout", now=when)
    _db.session.commit()


def spend_at(raw: str, when: datetime) -> str:
    """Rotate ``raw`` at ``when``; return its successor."""
    return rotate_refresh_token(raw, ttl=30 * DAY, grace_seconds=10, now=when)[1]


def session_ids() -> set[str]:
    return set(_db.session.execute(sa.select(Session.id)).scalars())


def token_hashes() -> set[str]:
    return set(_db.session.execute(sa.select(RefreshToken.token_hash)).scalars())


@pytest.fixture
def deletes(app):
    """Record ``(table, rows deleted)`` for every DELETE statement the database runs."""
    seen = []

    def after(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM"):
            seen.append((statement.split()[2].strip('"'), cursor.rowcount))

    with app.app_context():
        engine = _db.engine
    sa.event.listen(engine, "after_cursor_execute", after)
    yield seen
    sa.event.remove(engine, "after_cursor_execute", after)


def test_purge_of_an_empty_database_deletes_nothing(ctx):
    assert purge_expired(now=at(0)) == {"sessions": 0, "refresh_tokens": 0}


def test_purge_deletes_in_batches_of_at_most_batch_rows(user, deletes):
    for _ in range(5):
        open_at(user, at(0), ttl=60)
    counts = purge_expired(now=at(120), batch=2)
    assert counts == {"sessions": 5, "refresh_tokens": 5}
    assert session_ids() == set() and token_hashes() == set()
    session_deletes = [rows for table, rows in deletes if table == "sessions"]
    token_deletes = [rows for table, rows in deletes if table == "refresh_tokens"]
    assert session_deletes == [2, 2, 1]
    assert sorted(token_deletes, reverse=True)[:3] == [2, 2, 1] and all(rows <= 2 for rows in token_deletes)


def test_purge_deletes_expired_sessions_with_their_tokens_and_keeps_live_ones(user):
    expired, _ = open_at(user, at(0), ttl=60)
    live, live_raw = open_at(user, at(0), ttl=DAY)
    assert purge_expired(now=at(120)) == {"sessions": 1, "refresh_tokens": 1}
    assert session_ids() == {live}
    assert token_hashes() == {hash_refresh_token(live_raw)}


def test_purge_keeps_revoked_sessions_within_the_retention(user):
    recent, recent_raw = open_at(user, at(0))
    old, _ = open_at(user, at(0))
    revoke_at(old, at(0))
    revoke_at(recent, at(DAY + 60))
    counts = purge_expired(retention=DAY, now=at(DAY + 120))
    assert counts == {"sessions": 1, "refresh_tokens": 1}
    assert session_ids() == {recent}
    assert token_hashes() == {hash_refresh_token(recent_raw)}


def test_purge_deletes_the_unspent_tokens_of_the_sessions_it_deletes(user):
    revoked, raw = open_at(user, at(0))
    successor = spend_at(raw, at(10))
    revoke_at(revoked, at(20))
    assert token_hashes() == {hash_refresh_token(raw), hash_refresh_token(successor)}
    # Retention long for tokens, short for sessions: the session goes, and both of its tokens with it.
    counts = purge_expired(retention=3600, now=at(2 * 3600))
    assert counts == {"sessions": 1, "refresh_tokens": 2}
    assert session_ids() == set() and token_hashes() == set()


def test_purge_deletes_spent_tokens_older_than_the_retention(user):
    session_id, first = open_at(user, at(0))
    second = spend_at(first, at(0))
    third = spend_at(second, at(DAY))
    assert purge_expired(retention=DAY, now=at(DAY + 60)) == {"sessions": 0, "refresh_tokens": 1}
    assert token_hashes() == {hash_refresh_token(second), hash_refresh_token(third)}
    assert session_ids() == {session_id}


def test_reuse_of_a_spent_token_kept_by_purge_still_revokes_the_session(user):
    session_id, first = open_at(user, at(0))
    second = spend_at(first, at(0))
    purge_expired(retention=DAY, now=at(3600))
    with pytest.raises(InvalidGrant):
        spend_at(first, at(3600))  # reuse
    assert _db.session.get(Session, session_id).revoked_at is not None
    with pytest.raises(InvalidGrant):
        spend_at(second, at(3601))


def test_purge_keeps_a_just_revoked_session_for_the_revocation_window_even_with_zero_retention(app, user):
    window = AuthGW.of(app).revocation_feed.window
    session_id, _ = open_at(user, at(0))
    revoke_at(session_id, at(0))
    assert purge_expired(retention=0, now=at(window - 1))["sessions"] == 0
    assert session_ids() == {session_id}
    assert purge_expired(retention=0, now=at(window + 1))["sessions"] == 1


def test_another_worker_still_refuses_a_revoked_token_after_a_zero_retention_purge(app, make_app, client,
                                                                                    signed_in):
    assert client.post("/api/auth/logout", headers=signed_in.auth).status_code == 204
    with app.app_context():
        purge_expired(retention=0)
        assert _db.session.get(Session, signed_in.session_id) is not None
    other_worker = make_app(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"]).test_client()
    assert_refused(other_worker, signed_in)


@pytest.mark.parametrize("kwargs", [{"retention": -1}, {"batch": 0}])
def test_purge_refuses_a_negative_retention_or_an_empty_batch(ctx, kwargs):
    with pytest.raises(ValueError):
        purge_expired(now=at(0), **kwargs)

"""Revocation cutoffs: "the access tokens of this user, role or service
account issued before *t* are refused" (the ``subjects`` and ``roles`` of
the revocation feed, docs/login-and-tokens.md "The revocation feed").

A token minted after a cutoff carries an ``iat`` of at least that cutoff
(``tokens.mint_access_token`` raises it to its grant's ``not_before``), so
it is never refused by it. A token minted from grants read before the
removal's commit has an ``iat`` before the cutoff: the removal locks the
holder's row before computing it (``lock_holder``), and the grants are read
with share locks (``sessions.read_grant``). The cost of that rule: a second privilege
removal within the same second as the first would get the same cutoff,
and the tokens minted between the two would keep the removed privilege.
``new_cutoff`` therefore always returns a time after every cutoff that can
have raised the ``iat`` of a token the new one must refuse.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import sqlalchemy as sa

from .clock import utcnow
from .extensions import db
from .models import Role, ServiceAccount, ServiceAccountCutoff, User, service_account_roles, user_roles


def lock_holder(model: type, row_id: int) -> None:
    """Lock the row of the user, role or service account whose cutoff is
    about to be set (``SELECT ... FOR UPDATE``, held until the transaction
    ends; nothing on SQLite, which serialises writers itself).

    Call it before ``new_cutoff``: a token request that read the holder's
    grants with a share lock (``sessions.read_grant``) has then ended before
    the cutoff is computed, so the cutoff is later than that token's ``iat``;
    one that reads after this lock waits for the commit and sees the
    privilege gone (docs/authorization.md "Removing a privilege").

    Args:
        model: ``User``, ``Role`` or ``ServiceAccount``.
        row_id: the row's primary key.
    """
    db.session.execute(sa.select(model.id).where(model.id == row_id).with_for_update())


def new_cutoff(previous: Callable[[], int] | None = None) -> int:
    """A cutoff for a privilege removed now: Unix seconds (int).

    Args:
        previous: returns the latest cutoff (Unix seconds, 0 for none) that
            can have raised the ``iat`` of a token this cutoff must refuse;
            called only when a cutoff of this second or later exists at
            all (one indexed lookup per table otherwise).

    Returns:
        int: now rounded up to the second, or ``previous() + 1`` when that
        is later. Repeated removals for one holder within one second thus
        move its cutoff, and the ``iat`` of its next tokens, up to a few
        seconds ahead of the clock: within the checkers' leeway
        (``LEEWAY_SECONDS``) unless more than that many follow each other
        in one second.
    """
    now = math.ceil(utcnow().timestamp())
    if previous is not None and latest_cutoff() >= now:
        return max(now, previous() + 1)
    return now


def latest_cutoff() -> int:
    """The latest cutoff of any user, role or service account (0: none)."""
    queries = (sa.select(sa.func.max(User.tokens_valid_after)), sa.select(sa.func.max(Role.tokens_valid_after)),
               sa.select(sa.func.max(ServiceAccountCutoff.not_before)))
    return max(db.session.execute(query).scalar() or 0 for query in queries)


def latest_of(values: Iterable[int | None]) -> int:
    """The largest of ``values``, None counting as 0."""
    return max((value or 0 for value in values), default=0)


def holder_not_before(user: User) -> int:
    """The latest cutoff that can have raised the ``iat`` of ``user``'s
    tokens: its own and its roles', read with locking reads (the latest
    committed values; the user's row is locked by ``lock_holder`` already,
    its roles' rows get share locks). Refreshes ``user.tokens_valid_after``."""
    db.session.refresh(user, ["tokens_valid_after"], with_for_update=True)
    roles = db.session.execute(
        sa.select(sa.func.max(Role.tokens_valid_after)).join(user_roles, user_roles.c.role_id == Role.id)
        .where(user_roles.c.user_id == user.id).with_for_update(read=True)).scalar()
    return latest_of([user.tokens_valid_after, roles])


def role_holders_not_before(role: Role) -> int:
    """The latest cutoff that can have raised the ``iat`` of a token carrying
    ``role``: those of the users and service accounts holding it, and of
    every role they hold (``role`` included)."""
    users = sa.select(user_roles.c.user_id).where(user_roles.c.role_id == role.id)
    accounts = sa.select(service_account_roles.c.service_account_id).where(service_account_roles.c.role_id == role.id)
    queries = (
        sa.select(sa.func.max(User.tokens_valid_after)).where(User.id.in_(users)),
        sa.select(sa.func.max(Role.tokens_valid_after)).join(user_roles, user_roles.c.role_id == Role.id)
        .where(user_roles.c.user_id.in_(users)),
        sa.select(sa.func.max(Role.tokens_valid_after))
        .join(service_account_roles, service_account_roles.c.role_id == Role.id)
        .where(service_account_roles.c.service_account_id.in_(accounts)),
        sa.select(sa.func.max(ServiceAccountCutoff.not_before)).where(
            ServiceAccountCutoff.client_id.in_(sa.select(ServiceAccount.client_id).where(ServiceAccount.id.in_(accounts)))),
    )
    return latest_of([role.tokens_valid_after, *(db.session.execute(query).scalar() for query in queries)])

"""Run a transaction again when the database broke a deadlock in it.

Token requests read the user's grants with share locks and privilege
removals lock the holder's row first (docs/authorization.md "Removing a
privilege"); InnoDB may still pick one of two transactions as a deadlock
victim (error 1213) and roll it back whole, asking the client to "try
restarting transaction". A transaction decorated here is run again, up to
``ATTEMPTS`` times in all, after a short random pause; any other error, or a
deadlock on the last attempt, propagates (a deadlock is an
``OperationalError``: the request gets the usual bounded 503).
"""

from __future__ import annotations

import tenacity
from sqlalchemy.exc import OperationalError

from .extensions import db

#: MariaDB/MySQL error number of a deadlock (ER_LOCK_DEADLOCK).
ER_LOCK_DEADLOCK = 1213
#: Runs in all, the first included.
ATTEMPTS = 3


def driver_error_number(exc: BaseException) -> int | None:
    """The database driver's error number of a SQLAlchemy error (PyMySQL's
    ``args[0]``: 1213 deadlock, 2013 connection lost...), or None."""
    args = getattr(getattr(exc, "orig", None), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def is_deadlock(exc: BaseException) -> bool:
    """Whether ``exc`` is the database's deadlock error (1213)."""
    return isinstance(exc, OperationalError) and driver_error_number(exc) == ER_LOCK_DEADLOCK


def _roll_back(_state: tenacity.RetryCallState) -> None:
    db.session.rollback()


#: Decorator: the function is one whole transaction (it begins and commits
#: or rolls back itself), so running it again after the rollback is safe.
retry_on_deadlock = tenacity.retry(
    retry=tenacity.retry_if_exception(is_deadlock),
    stop=tenacity.stop_after_attempt(ATTEMPTS),
    wait=tenacity.wait_random(0.005, 0.05),
    before_sleep=_roll_back,
    reraise=True,
)

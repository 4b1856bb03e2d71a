"""One migration at a time across replicas (docs/kit.md, "Migration lock").

Replicas of a service started together all apply their migrations at
start. On MySQL/MariaDB the first takes a named lock (``GET_LOCK``) and
migrates; the others wait for it and then find nothing left to do. Use it
in an Alembic ``env.py`` around ``context.run_migrations()``::

    from authgw_kit.migrations import migration_lock

    with migration_lock(connection, "myservice_migrations"):
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()

Other databases (SQLite in tests) take no lock: they have no named locks,
and one process migrates them. Works with a SQLAlchemy ``Connection``
(it needs ``dialect.name``, ``exec_driver_sql`` and ``commit``); this
module does not import SQLAlchemy.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

#: Seconds a replica waits for another one's migration to finish.
DEFAULT_TIMEOUT = 300
#: Dialects that have ``GET_LOCK`` / ``RELEASE_LOCK``.
LOCKING_DIALECTS = frozenset({"mysql", "mariadb"})


@contextmanager
def migration_lock(connection: Any, name: str, timeout: int = DEFAULT_TIMEOUT, *,
                   label: str = "migration lock") -> Iterator[bool]:
    """Hold the named lock ``name`` on ``connection`` for the ``with`` block (MySQL/MariaDB).

    The lock belongs to the connection, not to a transaction, so it is
    committed at once and released (and committed) when the block ends,
    whether it succeeded or raised.

    Args:
        connection: a SQLAlchemy ``Connection`` to the database to migrate.
        name: the lock's name (one per service, e.g. ``"authgw_migrations"``);
            letters, digits and ``_`` only (it is put in the statement).
        timeout: seconds to wait for another process to release it.
        label: how the error message names the lock.

    Yields:
        bool: True when a lock is held, False on a database without named locks.

    Raises:
        RuntimeError: another process held the lock for ``timeout`` seconds.
        ValueError: ``name`` holds other characters, or ``timeout`` is not a
            positive integer.
    """
    if not name or not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError("the migration lock name must be letters, digits and _")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ValueError("the migration lock timeout must be a positive number of seconds")
    locking = connection.dialect.name in LOCKING_DIALECTS
    if locking:
        got = connection.exec_driver_sql(f"SELECT GET_LOCK('{name}', {timeout})").scalar()
        connection.commit()  # the named lock belongs to the connection, not the transaction
        if got != 1:
            raise RuntimeError(f"another process held the {label} for {timeout} s")
    try:
        yield locking
    finally:
        if locking:
            connection.exec_driver_sql(f"SELECT RELEASE_LOCK('{name}')")
            connection.commit()


__all__ = ["DEFAULT_TIMEOUT", "LOCKING_DIALECTS", "migration_lock"]

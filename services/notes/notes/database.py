"""Database engine options, waiting for the database, and migrations.

Timeouts are chosen so that no request waits on a hung MariaDB for more
than 3 s (docs/notes.md, "Database"): the worst path is a pooled connection
whose liveness ping times out (read timeout), followed by one reconnect
whose greeting read times out again (a hung server's kernel still accepts
the TCP connection), so 2 x ``READ_WRITE_TIMEOUT``, plus the time a request
waited for a gunicorn thread held by such a path. Measured on the native
stack with MariaDB frozen (SIGSTOP): 1.4 s read timeouts gave answers after
up to 4 s on a busy machine, 1 s up to 3.2 s (an audit, turn 5; 2.0-2.2 s
on a quiet one). A refused or unreachable database fails at once or after
``CONNECT_TIMEOUT``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

#: Seconds to open a TCP connection to the database.
CONNECT_TIMEOUT = 1
#: Seconds one read or write on a database connection may block (PyMySQL; a
#: long result is many reads, each well under this on a healthy server: the
#: service's queries read one user's notes by an index).
READ_WRITE_TIMEOUT = 0.7
#: Seconds a request waits for a free pooled connection.
POOL_TIMEOUT = 2
#: Folder of the service's Alembic migrations (its own version table).
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
#: Alembic's version table of this service, apart from the backend's ``alembic_version``.
VERSION_TABLE = "notes_alembic_version"


def engine_options(url: str) -> dict:
    """Return SQLAlchemy ``create_engine`` options for ``url``.

    Args:
        url: the SQLAlchemy database URL.

    Returns:
        dict: pool and driver timeouts for MySQL/MariaDB (seconds); nothing
        extra for SQLite (tests).
    """
    if url.startswith("sqlite"):
        return {}
    return {
        "pool_pre_ping": True,  # a restarted database never hands out dead connections
        "pool_recycle": 280,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_timeout": POOL_TIMEOUT,
        "connect_args": {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_WRITE_TIMEOUT,
            "write_timeout": READ_WRITE_TIMEOUT,
        },
    }


def wait_for_database(url: str, timeout: float, interval: float = 1.0) -> None:
    """Block until the database answers ``SELECT 1``.

    Args:
        url: SQLAlchemy URL.
        timeout: seconds to keep trying (0: try once).
        interval: seconds between attempts (doubling up to 5).

    Raises:
        OperationalError: the database did not answer within ``timeout``.
    """
    engine = sa.create_engine(url, **engine_options(url))
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
                return
            except OperationalError as exc:
                if time.monotonic() + interval > deadline:
                    raise
                log.info("waiting for the notes database (%s)", exc.orig.__class__.__name__ if exc.orig else exc)
                time.sleep(interval)
                interval = min(interval * 2, 5.0)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the service's Alembic migrations up to ``revision``.

    On MySQL/MariaDB ``migrations/env.py`` holds a named lock meanwhile, so
    replicas starting together migrate once.

    Args:
        url: SQLAlchemy URL.
        revision: target revision (``head``).
    """
    engine = sa.create_engine(url, **engine_options(url))
    try:
        with engine.connect() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def prepare_database(url: str, wait: float) -> None:
    """Wait for the database (at most ``wait`` seconds), then migrate it to head."""
    wait_for_database(url, wait)
    upgrade(url)

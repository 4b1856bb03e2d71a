"""Alembic environment of the notes service.

Run through ``notes.database.upgrade`` (which passes an open connection in
``config.attributes["connection"]``) or, for ``alembic`` on the command
line, with ``NOTES_DATABASE_URL`` set. The version table is
``notes_alembic_version`` so the service can share a database with the
backend without touching its ``alembic_version``.
"""

import os

import sqlalchemy as sa
from alembic import context
from authgw_kit.migrations import migration_lock

config = context.config

VERSION_TABLE = "notes_alembic_version"
MIGRATION_LOCK = "notes_migrations"
#: Seconds a replica waits for another one's migration to finish.
MIGRATION_LOCK_TIMEOUT = 300


def run(connection) -> None:
    # Replicas started together all migrate at start: on MySQL/MariaDB the
    # first takes a named lock, the others wait and find nothing left to do.
    with migration_lock(connection, MIGRATION_LOCK, MIGRATION_LOCK_TIMEOUT, label="notes migration lock"):
        context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


def main() -> None:
    if context.is_offline_mode():
        context.configure(url=os.environ["NOTES_DATABASE_URL"], literal_binds=True, version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = sa.create_engine(os.environ["NOTES_DATABASE_URL"])
    try:
        with engine.connect() as own:
            run(own)
    finally:
        engine.dispose()


main()

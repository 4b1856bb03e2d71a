"""``flask`` commands for operators: database wait, purge, users and roles."""

from __future__ import annotations

import time

import click
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import OperationalError

from .extensions import db


def wait_for_database(timeout: float = 60.0, first_delay: float = 0.25, max_delay: float = 5.0) -> float:
    """Block until the database accepts a connection, with exponential backoff.

    Args:
        timeout: give up after this many seconds.
        first_delay, max_delay: backoff bounds, seconds.

    Returns:
        float: seconds waited.

    Raises:
        click.ClickException: still unreachable after ``timeout``.
    """
    start = time.monotonic()
    delay = first_delay
    while True:
        try:
            with db.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return time.monotonic() - start
        except OperationalError as exc:
            waited = time.monotonic() - start
            if waited >= timeout:
                raise click.ClickException(f"database unreachable after {waited:.0f} s: {exc.orig}") from None
            time.sleep(min(delay, max(0.0, timeout - waited)))
            delay = min(delay * 2, max_delay)


def register_cli(app: Flask) -> None:
    """Add the operator commands to ``app.cli``."""

    @app.cli.command("wait-for-db")
    @click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait.")
    def wait_for_db_command(timeout: float) -> None:
        """Wait until the database answers (backoff up to 5 s between tries)."""
        waited = wait_for_database(timeout)
        click.echo(f"database ready after {waited:.1f} s")

    @app.cli.command("purge")
    @click.option("--retention", default=86400, show_default=True, help="Seconds to keep revoked sessions and spent tokens.")
    def purge_command(retention: int) -> None:
        """Delete expired sessions and spent or expired refresh tokens."""
        from .sessions import purge_expired

        counts = purge_expired(retention=retention)
        click.echo(f"purged {counts['sessions']} sessions and {counts['refresh_tokens']} refresh tokens")

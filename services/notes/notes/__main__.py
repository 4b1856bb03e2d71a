"""``python -m notes check-config | upgrade``: operator commands of the notes service.

``check-config`` validates the settings and prints every problem (exit 2);
``upgrade`` waits for the database (``NOTES_DATABASE_WAIT`` seconds) and
applies the migrations. ``gunicorn.conf.py`` does both before any worker
starts, so neither is needed to run the service.
"""

from __future__ import annotations

import logging
import sys

from sqlalchemy.exc import OperationalError

from .config import ConfigError, load_settings
from .database import prepare_database

USAGE = "usage: python -m notes check-config | upgrade"


def main(argv: list[str] | None = None) -> int:
    """Run the command named in ``argv``; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args not in (["check-config"], ["upgrade"]):
        print(USAGE, file=sys.stderr)
        return 64
    try:
        settings = load_settings()
    except ConfigError as exc:
        exc.report(sys.stderr)
        return 2
    if args == ["upgrade"]:
        logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
        try:
            prepare_database(settings.database_url, settings.database_wait)
        except OperationalError as exc:
            print(f"notes: the database did not answer: {exc.orig.__class__.__name__ if exc.orig else exc}",
                  file=sys.stderr)
            return 1
    print("notes: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

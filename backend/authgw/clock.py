"""The service's clock, in one place so tests can move it."""

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Return the current time as an aware UTC ``datetime``."""
    return datetime.now(timezone.utc)

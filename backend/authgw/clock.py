"""The service's clock, in one place so tests can move it."""

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Return the current time as an aware UTC ``datetime``."""
    return datetime.now(timezone.utc)


def rfc3339(value: datetime | None) -> str | None:
    """Format an aware UTC datetime as RFC 3339 (``2026-11-21T05:00:00.123456Z``); None stays None."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")

"""Tables of the notes service (schema: ``migrations/versions``)."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from .extensions import db

#: Microsecond timestamps on MySQL/MariaDB (DATETIME(6)), plain elsewhere.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

#: Longest title, in characters (docs/notes.md).
TITLE_MAX = 200
#: Longest body, in characters (docs/notes.md).
BODY_MAX = 10_000


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (the columns hold UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def rfc3339(value: datetime) -> str:
    """Format a naive UTC datetime as an RFC 3339 timestamp, e.g. ``2026-12-03T08:21:08.123456Z``."""
    return value.replace(tzinfo=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Note(db.Model):
    """One note of one user, who is the access token's ``sub`` (RFC 9068 §2.2)."""

    __tablename__ = "notes"

    id = db.Column(db.Integer, primary_key=True)
    #: The owner: ``sub`` of the token that created it. Never taken from a header.
    subject = db.Column(db.String(255), nullable=False)
    title = db.Column(db.String(TITLE_MAX), nullable=False)
    body = db.Column(db.Text, nullable=False, default="")
    created_at = db.Column(DATETIME, nullable=False, default=utcnow)
    updated_at = db.Column(DATETIME, nullable=False, default=utcnow)

    __table_args__ = (sa.Index("ix_notes_subject_created_at", "subject", "created_at"),)

    def to_dict(self) -> dict:
        """Return the note as the API shows it: ``{"id", "title", "body", "created_at", "updated_at"}``."""
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        }

"""Database schema: users, roles, permissions, sessions, refresh tokens, audit,
service accounts.

Works on MySQL 8 and MariaDB 10.11 (utf8mb4, every indexed column short
enough for InnoDB's 3072-byte key limit) and on SQLite for unit tests. The
schema itself is created by the Alembic migrations in ``backend/migrations``;
these classes must match them (``tests/stack/test_migrations_mariadb.py`` checks on MariaDB).
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

#: Table options for MySQL/MariaDB; ignored elsewhere.
MYSQL_TABLE_ARGS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes, stored naive in UTC with microseconds.

    MySQL's ``DATETIME`` drops fractions unless ``fsp=6``; the refresh grace
    window and the revocation feed compare times closer than a second.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

user_roles = sa.Table(
    "user_roles",
    db.metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.Integer, sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    **MYSQL_TABLE_ARGS,
)

role_permissions = sa.Table(
    "role_permissions",
    db.metadata,
    sa.Column("role_id", sa.Integer, sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("permission_id", sa.Integer, sa.ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True),
    **MYSQL_TABLE_ARGS,
)


class Permission(db.Model):
    """A permission string ``resource:action`` (e.g. ``users:read``)."""

    __tablename__ = "permissions"
    __table_args__ = MYSQL_TABLE_ARGS

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")


class Role(db.Model):
    """A named set of permissions (built in: ``user``, ``admin``)."""

    __tablename__ = "roles"
    __table_args__ = MYSQL_TABLE_ARGS

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    #: Unix seconds: tokens carrying this role issued before are refused (a permission was removed).
    tokens_valid_after: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions, lazy="selectin", order_by="Permission.name")


class RoleHolder:
    """What a holder of ``roles`` (a user or a service account) is granted by them."""

    @property
    def role_names(self) -> list[str]:
        """The names of the holder's roles, sorted."""
        return sorted(role.name for role in self.roles)

    @property
    def permission_names(self) -> list[str]:
        """The union of the holder's roles' permissions, sorted."""
        return sorted({perm.name for role in self.roles for perm in role.permissions})


class User(RoleHolder, db.Model):
    """An account, unique per OpenID provider (``issuer``) and ``subject``."""

    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject", name="uq_users_issuer_subject"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    picture: Mapped[str | None] = mapped_column(sa.String(2048), nullable=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Unix seconds: this user's tokens issued before are refused (a role was removed).
    tokens_valid_after: Mapped[int | None] = mapped_column(sa.Integer, nullable=True, index=True)
    #: Argon2id hash (PHC string) of a local account's password; None: no password sign-in.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin", order_by="Role.name")


service_account_roles = sa.Table(
    "service_account_roles",
    db.metadata,
    sa.Column("service_account_id", sa.Integer, sa.ForeignKey("service_accounts.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("role_id", sa.Integer, sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    **MYSQL_TABLE_ARGS,
)


class ServiceAccount(RoleHolder, db.Model):
    """A machine client of the client credentials grant (RFC 6749 §4.4).

    Its secret is stored only as a SHA-256 hash (docs/machine-clients.md
    explains why not Argon2 for 256-bit random secrets). Deletion removes the
    row and sets a revocation cutoff, so no soft-delete flag is kept.
    """

    __tablename__ = "service_accounts"
    __table_args__ = MYSQL_TABLE_ARGS

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"),
                                                      nullable=True)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    roles: Mapped[list[Role]] = relationship(secondary=service_account_roles, lazy="selectin", order_by="Role.name")


class ServiceAccountCutoff(db.Model):
    """Unix seconds before which the access tokens of ``client_id`` are refused
    (a rotated secret or a deleted account): the ``subjects`` part of the
    revocation feed. Kept apart from ``service_accounts`` so a deleted
    account's cutoff outlives its row for the access-token window."""

    __tablename__ = "service_account_cutoffs"
    __table_args__ = (sa.Index("ix_service_account_cutoffs_not_before", "not_before"), MYSQL_TABLE_ARGS)

    client_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    not_before: Mapped[int] = mapped_column(sa.Integer, nullable=False)


class AllowedEmail(db.Model):
    """An email an admin allowed to sign in before its first login."""

    __tablename__ = "allowed_emails"
    __table_args__ = MYSQL_TABLE_ARGS

    email: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class Session(db.Model):
    """One signed-in device or browser; the ``sid`` claim of access tokens."""

    __tablename__ = "sessions"
    __table_args__ = (sa.Index("ix_sessions_user_id", "user_id"), sa.Index("ix_sessions_revoked_at", "revoked_at"),
                      sa.Index("ix_sessions_expires_at", "expires_at"), MYSQL_TABLE_ARGS)

    id: Mapped[str] = mapped_column(sa.String(43), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    user_agent: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    ip: Mapped[str] = mapped_column(sa.String(45), nullable=False, default="")
    user: Mapped[User] = relationship(lazy="joined")


class RefreshToken(db.Model):
    """A refresh token, stored only as its SHA-256 (RFC 9700 §4.14.2 rotation)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (sa.Index("ix_refresh_tokens_session_id", "session_id"),
                      sa.Index("ix_refresh_tokens_expires_at", "expires_at"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(sa.String(43), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The successor minted when this token was spent, encrypted, for the grace window.
    successor_sealed: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    session: Mapped[Session] = relationship(lazy="joined")


class AuditEvent(db.Model):
    """A security event: who, what, when, from where. Never holds a token."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_created_at", "created_at"), sa.Index("ix_audit_events_event", "event"),
                      sa.Index("ix_audit_events_user_id", "user_id"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    event: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    #: The account the event is about (None when unknown, e.g. a failed login).
    user_id: Mapped[int | None] = mapped_column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    #: Who did it, when not the user themself (an admin).
    actor_id: Mapped[int | None] = mapped_column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    ip: Mapped[str] = mapped_column(sa.String(45), nullable=False, default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    details: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)

"""Service accounts (client credentials grant) and local account passwords.

- ``service_accounts``: machine clients of ``POST /api/auth/token``
  (RFC 6749 §4.4): ``client_id``, a name, the SHA-256 of the secret (never
  the secret), who created it and when; ``service_account_roles`` links
  them to roles, as ``user_roles`` does for users.
- ``service_account_cutoffs``: per ``client_id``, Unix seconds before which
  its access tokens are refused (a rotated secret or a deleted account), the
  ``subjects`` part of the revocation feed; it outlives a deleted account.
- ``users.password_hash``: Argon2id hash of a local account's password
  (``PASSWORD_LOGIN=on``), NULL for accounts that sign in with the provider.
- Permission ``service_accounts:write``, held by ``admin``.

Pages: docs/machine-clients.md, docs/local-accounts.md.

Revision ID: 0004
Revises: 0003

"""
from alembic import op
import sqlalchemy as sa
from permission_grants import drop_permissions, grant_permissions
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLE_ARGS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
PERMISSIONS = {"service_accounts:write": "Create, list, rotate and delete service accounts (machine clients)"}
ROLES = ("admin",)

# Microsecond timestamps on MySQL/MariaDB (DATETIME(6)), plain elsewhere.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    op.create_table(
        "service_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("secret_rotated_at", DATETIME, nullable=True),
        sa.Column("last_used_at", DATETIME, nullable=True),
        sa.UniqueConstraint("client_id", name="uq_service_accounts_client_id"),
        **TABLE_ARGS,
    )
    op.create_table(
        "service_account_roles",
        sa.Column("service_account_id", sa.Integer, sa.ForeignKey("service_accounts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("role_id", sa.Integer, sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
        **TABLE_ARGS,
    )
    op.create_table(
        "service_account_cutoffs",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("not_before", sa.Integer, nullable=False),
        **TABLE_ARGS,
    )
    op.create_index("ix_service_account_cutoffs_not_before", "service_account_cutoffs", ["not_before"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))

    grant_permissions(PERMISSIONS, ROLES)


def downgrade():
    drop_permissions(PERMISSIONS)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
    op.drop_index("ix_service_account_cutoffs_not_before", table_name="service_account_cutoffs")
    op.drop_table("service_account_cutoffs")
    op.drop_table("service_account_roles")
    op.drop_table("service_accounts")

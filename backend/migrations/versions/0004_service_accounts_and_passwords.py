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
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLE_ARGS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
PERMISSIONS = {"service_accounts:write": "Create, list, rotate and delete service accounts (machine clients)"}
ROLES = ("admin",)

permissions = sa.table("permissions", sa.column("id", sa.Integer), sa.column("name", sa.String),
                       sa.column("description", sa.String))
roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
links = sa.table("role_permissions", sa.column("role_id", sa.Integer), sa.column("permission_id", sa.Integer))


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

    connection = op.get_bind()
    existing = set(connection.execute(sa.select(permissions.c.name).where(permissions.c.name.in_(PERMISSIONS))).scalars())
    missing = [{"name": name, "description": text} for name, text in PERMISSIONS.items() if name not in existing]
    if missing:
        op.bulk_insert(permissions, missing)
    permission_ids = dict(connection.execute(
        sa.select(permissions.c.name, permissions.c.id).where(permissions.c.name.in_(PERMISSIONS))).all())
    role_ids = dict(connection.execute(sa.select(roles.c.name, roles.c.id).where(roles.c.name.in_(ROLES))).all())
    present = set(connection.execute(
        sa.select(links.c.role_id, links.c.permission_id).where(links.c.permission_id.in_(permission_ids.values()))).all())
    new_links = [{"role_id": role_ids[role], "permission_id": permission_ids[name]}
                 for role in ROLES if role in role_ids for name in PERMISSIONS
                 if (role_ids[role], permission_ids[name]) not in present]
    if new_links:
        op.bulk_insert(links, new_links)


def downgrade():
    connection = op.get_bind()
    ids = list(connection.execute(sa.select(permissions.c.id).where(permissions.c.name.in_(PERMISSIONS))).scalars())
    if ids:
        connection.execute(links.delete().where(links.c.permission_id.in_(ids)))
        connection.execute(permissions.delete().where(permissions.c.id.in_(ids)))
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
    op.drop_index("ix_service_account_cutoffs_not_before", table_name="service_account_cutoffs")
    op.drop_table("service_account_cutoffs")
    op.drop_table("service_account_roles")
    op.drop_table("service_accounts")

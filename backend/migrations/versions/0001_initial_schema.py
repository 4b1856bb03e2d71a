"""Initial schema: users, roles, permissions, sessions, refresh tokens, audit log.

Seeds the built-in roles (``user``, ``admin``) and permissions. Works on
MySQL 8, MariaDB 10.11 (utf8mb4; every index within InnoDB's 3072-byte
limit) and SQLite.

Revision ID: 0001
Revises: 

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# Microsecond timestamps on MySQL/MariaDB (DATETIME(6)), plain elsewhere.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

PERMISSIONS = {
    "users:read": "List and view user accounts",
    "users:write": "Change users' roles and activation; allow emails",
    "roles:write": "Create roles and change their permissions",
    "audit:read": "Read the audit log",
}
ROLES = {
    "user": ("Every account", []),
    "admin": ("Administrators", sorted(PERMISSIONS)),
}


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('permissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    op.create_table('roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('picture', sa.String(length=2048), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.Column('last_login_at', DATETIME, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email'),
    sa.UniqueConstraint('issuer', 'subject', name='uq_users_issuer_subject'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    op.create_table('allowed_emails',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('email'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('user_agent', sa.String(length=255), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_audit_events_event', ['event'], unique=False)
        batch_op.create_index('ix_audit_events_user_id', ['user_id'], unique=False)

    op.create_table('role_permissions',
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('permission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['permission_id'], ['permissions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role_id', 'permission_id'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    op.create_table('sessions',
    sa.Column('id', sa.String(length=43), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.Column('last_used_at', DATETIME, nullable=False),
    sa.Column('expires_at', DATETIME, nullable=False),
    sa.Column('revoked_at', DATETIME, nullable=True),
    sa.Column('revoked_reason', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_expires_at', ['expires_at'], unique=False)
        batch_op.create_index('ix_sessions_revoked_at', ['revoked_at'], unique=False)
        batch_op.create_index('ix_sessions_user_id', ['user_id'], unique=False)

    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role_id'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    op.create_table('refresh_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.String(length=43), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.Column('expires_at', DATETIME, nullable=False),
    sa.Column('spent_at', DATETIME, nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_refresh_tokens_expires_at', ['expires_at'], unique=False)
        batch_op.create_index('ix_refresh_tokens_session_id', ['session_id'], unique=False)

    _seed()


def _seed():
    permissions = sa.table("permissions", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("description", sa.String))
    roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("description", sa.String))
    links = sa.table("role_permissions", sa.column("role_id", sa.Integer), sa.column("permission_id", sa.Integer))
    ids = {name: index for index, name in enumerate(sorted(PERMISSIONS), start=1)}
    op.bulk_insert(permissions, [{"id": ids[name], "name": name, "description": text} for name, text in PERMISSIONS.items()])
    op.bulk_insert(roles, [{"id": index, "name": name, "description": ROLES[name][0]} for index, name in enumerate(ROLES, start=1)])
    op.bulk_insert(links, [{"role_id": index, "permission_id": ids[perm]}
                           for index, name in enumerate(ROLES, start=1) for perm in ROLES[name][1]])


def downgrade():
    # Dropping a table drops its indexes; dropping an index first fails on
    # MySQL/MariaDB when a foreign key needs it (error 1553).
    for table in ("refresh_tokens", "user_roles", "sessions", "role_permissions", "audit_events",
                  "allowed_emails", "users", "roles", "permissions"):
        op.drop_table(table)

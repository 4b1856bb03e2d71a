"""Permissions of the example notes service: notes:read and notes:write.

Held by the built-in ``user`` role (every account may keep notes) and by
``admin`` (which holds every permission, docs/authorization.md). The
notes service's own tables live in its own database and migrations
(services/notes/migrations); only the permission names live here.

Revision ID: 0002
Revises: 0001

"""
from alembic import op
import sqlalchemy as sa

PERMISSIONS = {
    "notes:read": "Read one's own notes (notes service)",
    "notes:write": "Create, change and delete one's own notes (notes service)",
}
ROLES = ("user", "admin")

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

permissions = sa.table("permissions", sa.column("id", sa.Integer), sa.column("name", sa.String),
                       sa.column("description", sa.String))
roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
links = sa.table("role_permissions", sa.column("role_id", sa.Integer), sa.column("permission_id", sa.Integer))


def upgrade():
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
    # A role an operator deleted is recreated by the backend at the next login, without these permissions.
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

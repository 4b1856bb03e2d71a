"""Permissions of the example notes service: notes:read and notes:write.

Held by the built-in ``user`` role (every account may keep notes) and by
``admin`` (which holds every permission, docs/authorization.md). The
notes service's own tables live in its own database and migrations
(services/notes/migrations); only the permission names live here.

Revision ID: 0002
Revises: 0001

"""
from permission_grants import drop_permissions, grant_permissions

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


def upgrade():
    grant_permissions(PERMISSIONS, ROLES)


def downgrade():
    drop_permissions(PERMISSIONS)

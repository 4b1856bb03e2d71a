"""Add permissions and grant them to roles, for the data migrations (0002, 0004).

FROZEN: migrations already applied to existing databases call this code, and
a fresh database must end up exactly as those did. Never change what these
functions do; a later migration that needs something else writes its own
code (or a new function here). It sees the tables as the migrations left
them, through ``sa.table`` stubs, never through ``authgw.models``.

``alembic.ini`` puts this folder on ``sys.path`` (``prepend_sys_path``), so
the revision files import it as ``permission_grants``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from alembic import op

permissions = sa.table("permissions", sa.column("id", sa.Integer), sa.column("name", sa.String),
                       sa.column("description", sa.String))
roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
links = sa.table("role_permissions", sa.column("role_id", sa.Integer), sa.column("permission_id", sa.Integer))


def grant_permissions(descriptions: Mapping[str, str], role_names: Iterable[str]) -> None:
    """Create the permissions that do not exist yet and grant each to every role named.

    Idempotent: existing permissions keep their description, existing links
    are left alone. A role that does not exist (an operator deleted it) is
    skipped: the backend recreates the built-in roles at the next login,
    without these permissions.

    Args:
        descriptions: permission name -> its description.
        role_names: names of the roles to grant them to.
    """
    role_names = tuple(role_names)
    connection = op.get_bind()
    existing = set(connection.execute(sa.select(permissions.c.name).where(permissions.c.name.in_(descriptions))).scalars())
    missing = [{"name": name, "description": text} for name, text in descriptions.items() if name not in existing]
    if missing:
        op.bulk_insert(permissions, missing)
    permission_ids = dict(connection.execute(
        sa.select(permissions.c.name, permissions.c.id).where(permissions.c.name.in_(descriptions))).all())
    role_ids = dict(connection.execute(sa.select(roles.c.name, roles.c.id).where(roles.c.name.in_(role_names))).all())
    present = set(connection.execute(
        sa.select(links.c.role_id, links.c.permission_id).where(links.c.permission_id.in_(permission_ids.values()))).all())
    new_links = [{"role_id": role_ids[role], "permission_id": permission_ids[name]}
                 for role in role_names if role in role_ids for name in descriptions
                 if (role_ids[role], permission_ids[name]) not in present]
    if new_links:
        op.bulk_insert(links, new_links)


def drop_permissions(names: Iterable[str]) -> None:
    """Delete the named permissions and every role's link to them (the downgrade of `grant_permissions`)."""
    connection = op.get_bind()
    ids = list(connection.execute(sa.select(permissions.c.id).where(permissions.c.name.in_(list(names)))).scalars())
    if ids:
        connection.execute(links.delete().where(links.c.permission_id.in_(ids)))
        connection.execute(permissions.delete().where(permissions.c.id.in_(ids)))

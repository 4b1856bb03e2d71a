"""Privilege removals bite at once; refresh grace without forks.

- ``users.tokens_valid_after`` / ``roles.tokens_valid_after``: Unix seconds.
  Access tokens of that user, or carrying that role, issued (``iat``) before
  it are refused through the revocation feed (docs/authorization.md
  "Removing a privilege").
- ``refresh_tokens.successor_sealed``: the successor of a just-spent refresh
  token, encrypted (Fernet) for the grace window, so a second presentation
  inside the window gets the same successor: one chain per session
  (docs/login-and-tokens.md "Refresh token rotation").

Revision ID: 0003
Revises: 0002

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("tokens_valid_after", sa.Integer, nullable=True))
        batch.create_index("ix_users_tokens_valid_after", ["tokens_valid_after"])
    with op.batch_alter_table("roles") as batch:
        batch.add_column(sa.Column("tokens_valid_after", sa.Integer, nullable=True))
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("successor_sealed", sa.String(255), nullable=True))


def downgrade():
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("successor_sealed")
    with op.batch_alter_table("roles") as batch:
        batch.drop_column("tokens_valid_after")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_tokens_valid_after")
        batch.drop_column("tokens_valid_after")

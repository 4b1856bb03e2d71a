"""The notes table.

Works on MariaDB 10.11 / MySQL 8 (utf8mb4, InnoDB) and SQLite (tests).

Revision ID: notes_0001
Revises:

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# Microsecond timestamps on MySQL/MariaDB (DATETIME(6)), plain elsewhere.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

# revision identifiers, used by Alembic.
revision = 'notes_0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', DATETIME, nullable=False),
    sa.Column('updated_at', DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    op.create_index('ix_notes_subject_created_at', 'notes', ['subject', 'created_at'], unique=False)


def downgrade():
    op.drop_table('notes')

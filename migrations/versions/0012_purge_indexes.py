"""The purge's index: signed-out sessions, found by `flask maintenance purge` without reading the live ones.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 06:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_sessions_revoked_at",
        "sessions",
        ["revoked_at"],
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
        sqlite_where=sa.text("revoked_at IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_sessions_revoked_at", table_name="sessions")

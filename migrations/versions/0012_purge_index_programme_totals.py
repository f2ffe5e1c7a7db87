"""The purge's index: signed-out sessions, found by `flask maintenance purge` without reading the live ones;
and the programme's totals that the console's roll-up saves (the qualified referrals of every inviter, which
the overview summed over all the count rows on every view: 106 ms at 10,000,000 users).

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
    op.create_table(
        "programme_totals",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_programme_totals")),
    )
    op.create_index(
        "ix_sessions_revoked_at",
        "sessions",
        ["revoked_at"],
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
        sqlite_where=sa.text("revoked_at IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_sessions_revoked_at", table_name="sessions")
    op.drop_table("programme_totals")

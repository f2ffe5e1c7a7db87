"""A day's invite-link visits in 16 shares (``invite_link_visit_days``), kept by each visit beside its link's row:
the overview summed today's visits over one row per link visited today on every view (7,700 rows, 5 ms of its
20 at 10,000,000 users). Filled from the per-link rows there are.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 22:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SLOTS = 16  # referral.infra.models.LINK_VISIT_SLOTS when this was written


def upgrade():
    op.create_table(
        "invite_link_visit_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "slot", name=op.f("pk_invite_link_visit_days")),
    )
    op.execute(
        "INSERT INTO invite_link_visit_days (day, slot, visits) "
        f"SELECT day, user_id % {SLOTS}, sum(visits) FROM invite_link_visits GROUP BY day, user_id % {SLOTS}"
    )


def downgrade():
    op.drop_table("invite_link_visit_days")

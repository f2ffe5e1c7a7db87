"""How far into its day each rolled-up day was counted: the overview counts only the rows after that live (today
was counted whole on every view, a read that grows with the programme's traffic of a day).

A day rolled up before this column was counted up to its roll-up, so that is where it is taken to stop (a row of
a transaction open at that moment shows at the next roll-up, every few minutes).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 01:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("programme_days") as batch:
        batch.add_column(sa.Column("counted_until", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE programme_days SET counted_until = computed_at")
    with op.batch_alter_table("programme_days") as batch:
        batch.alter_column("counted_until", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table("programme_days") as batch:
        batch.drop_column("counted_until")

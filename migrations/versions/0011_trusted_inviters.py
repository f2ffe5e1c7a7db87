"""Trusted inviters: staff exempt an inviter (a planned campaign, an influencer) from the fraud rules about
volume (a burst an hour, numbers in sequence, one block of numbers); the rules about one person inviting
themselves still apply.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 23:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "trusted_inviters",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("trusted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trusted_by", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_trusted_inviters_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_trusted_inviters")),
    )


def downgrade():
    op.drop_table("trusted_inviters")

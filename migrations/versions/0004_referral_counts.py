"""Referral counts split over rows of their own: a campaign's sign-ups, which all count on one inviter, no
longer queue on that inviter's users row. The count moves, exactly, to one row per inviter (slot 0).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('referral_counts',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('referrals', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_referral_counts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'slot', name=op.f('pk_referral_counts'))
    )
    op.execute(
        "INSERT INTO referral_counts (user_id, slot, referrals) "
        "SELECT id, 0, referrals_count FROM users WHERE referrals_count <> 0"
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_referrals_count_not_negative'), type_='check')
        batch_op.drop_column('referrals_count')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referrals_count', sa.Integer(), server_default='0', nullable=False))
    op.execute(
        "UPDATE users SET referrals_count = "
        "(SELECT COALESCE(SUM(c.referrals), 0) FROM referral_counts AS c WHERE c.user_id = users.id)"
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f('ck_users_referrals_count_not_negative'), 'referrals_count >= 0'
        )
    op.drop_table('referral_counts')

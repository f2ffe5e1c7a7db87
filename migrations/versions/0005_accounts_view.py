"""The accounts view: a user as every request reads them (with the invite code they entered and their
referral count), so that each account statement in infra/accounts.py is short and whole instead of four copies
of the same select list. PostgreSQL inlines the view: the plans are those of the statements it replaces.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        """
        CREATE VIEW accounts AS
        SELECT u.id, u.phone, u.invite_code, u.first_name, u.last_name,
               inviter.invite_code AS activated_invite_code, u.invited_at,
               (SELECT COALESCE(SUM(c.referrals), 0) FROM referral_counts AS c WHERE c.user_id = u.id)
                   AS referrals_count,
               u.created_at
        FROM users AS u
        LEFT JOIN users AS inviter ON inviter.id = u.invited_by_id
        """
    )


def downgrade():
    op.execute("DROP VIEW accounts")

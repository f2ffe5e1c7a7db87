"""Invite codes matched ignoring case: an index on upper(invite_code), and the invite_codes view, which says for
each code how many codes share its upper-case spelling, so that a lookup finds the exact spelling, or else the
one code that fits ignoring case (two older codes that differ only in case are found by their exact spelling
alone). PostgreSQL pushes a lookup by the folded code through the window onto the index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_users_invite_code_folded', 'users', [sa.text('upper(invite_code)')], unique=False)
    op.execute(
        """
        CREATE VIEW invite_codes AS
        SELECT id, invite_code, upper(invite_code) AS folded,
               count(*) OVER (PARTITION BY upper(invite_code)) AS sharing
        FROM users
        """
    )


def downgrade():
    op.execute("DROP VIEW invite_codes")
    op.drop_index('ix_users_invite_code_folded', table_name='users')

"""Sessions remember the device they were started on (the user agent as sent, cut to 200 characters: what the
list of devices needs) and when they were last used (set by each refresh); codes may confirm an account's
deletion.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sessions', schema=None, reflect_kwargs={'resolve_fks': False}) as batch_op:
        batch_op.add_column(sa.Column('user_agent', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('login_codes', schema=None, reflect_kwargs={'resolve_fks': False}) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_login_codes_known_purpose'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_login_codes_known_purpose'), "purpose IN ('login', 'phone_change', 'account_deletion')"
        )


def downgrade():
    op.execute("DELETE FROM login_codes WHERE purpose = 'account_deletion'")
    with op.batch_alter_table('login_codes', schema=None, reflect_kwargs={'resolve_fks': False}) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_login_codes_known_purpose'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_login_codes_known_purpose'), "purpose IN ('login', 'phone_change')")
    with op.batch_alter_table('sessions', schema=None, reflect_kwargs={'resolve_fks': False}) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('user_agent')

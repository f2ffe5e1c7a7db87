"""The console's search by any part of a phone number or a name: trigram indexes (pg_trgm) on PostgreSQL.
SQLite has no such index; its search reads the table (a development database).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:55:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_context().dialect.name != 'postgresql':
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_users_phone_trigrams ON users USING gin (phone gin_trgm_ops)")
    op.execute(
        "CREATE INDEX ix_users_name_trigrams ON users USING gin ((lower(first_name || ' ' || last_name)) gin_trgm_ops)"
    )


def downgrade():
    if op.get_context().dialect.name != 'postgresql':
        return
    op.execute("DROP INDEX ix_users_name_trigrams")
    op.execute("DROP INDEX ix_users_phone_trigrams")

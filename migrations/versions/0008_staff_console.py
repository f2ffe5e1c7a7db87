"""The staff console: staff with a role and a TOTP secret, their console sessions, the append-only audit log
(a trigger refuses UPDATE and DELETE on PostgreSQL and SQLite alike); each activation's channel (link, code at
sign-up, code later); invite-link visits per code and day; the daily roll-ups the overview reads, with the top
referrers of each range; blocked accounts; console sign-in codes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PURPOSES = "purpose IN ('login', 'phone_change', 'account_deletion', 'console_signin')"


def upgrade():
    op.add_column("users", sa.Column("invite_channel", sa.String(length=16), nullable=True))
    op.add_column("users", sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_users_created_at", "users", ["created_at"], unique=False)
    op.create_index("ix_users_invited_at", "users", ["invited_at"], unique=False)
    with op.batch_alter_table("login_codes", schema=None, reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_login_codes_known_purpose"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_login_codes_known_purpose"), PURPOSES)

    op.create_table(
        "staff",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('support', 'admin')", name=op.f("ck_staff_known_role")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.user_id"], name=op.f("fk_console_sessions_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_staff_id"), "console_sessions", ["staff_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_phone", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=True),
        sa.Column("subject_phone", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.Column("details", sa.Text(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_id", "at"], unique=False)
    op.create_table(
        "invite_link_visits",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_invite_link_visits_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("day", "user_id", name=op.f("pk_invite_link_visits")),
    )
    op.create_table(
        "programme_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("signups_organic", sa.Integer(), nullable=False),
        sa.Column("signups_referred", sa.Integer(), nullable=False),
        sa.Column("activations_link", sa.Integer(), nullable=False),
        sa.Column("activations_code_at_signup", sa.Integer(), nullable=False),
        sa.Column("activations_code_later", sa.Integer(), nullable=False),
        sa.Column("link_visits", sa.Integer(), nullable=False),
        sa.Column("sms_sent", sa.Integer(), nullable=False),
        sa.Column("sms_failed", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_programme_days")),
    )
    op.create_table(
        "top_referrers",
        sa.Column("range_days", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("referrals", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_top_referrers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("range_days", "rank", name=op.f("pk_top_referrers")),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the audit log is append-only';
            END
            $$
            """
        )
        op.execute(
            """
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
            """
        )
    else:
        for change in ("UPDATE", "DELETE"):
            op.execute(
                f"""
                CREATE TRIGGER audit_log_no_{change.lower()} BEFORE {change} ON audit_log
                BEGIN
                    SELECT RAISE(ABORT, 'the audit log is append-only');
                END
                """
            )


def downgrade():
    op.drop_table("top_referrers")
    op.drop_table("programme_days")
    op.drop_table("invite_link_visits")
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index(op.f("ix_console_sessions_staff_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("staff")
    op.execute("DELETE FROM login_codes WHERE purpose = 'console_signin'")
    with op.batch_alter_table("login_codes", schema=None, reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_login_codes_known_purpose"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_login_codes_known_purpose"), "purpose IN ('login', 'phone_change', 'account_deletion')"
        )
    op.drop_index("ix_users_invited_at", table_name="users")
    op.drop_index("ix_users_created_at", table_name="users")
    # Plain ALTER TABLE (SQLite has it since 3.35): a batch would rebuild users under the views that read it.
    op.execute("ALTER TABLE users DROP COLUMN blocked_at")
    op.execute("ALTER TABLE users DROP COLUMN invite_channel")

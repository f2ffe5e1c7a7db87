"""Referrals that qualify and earn rewards, and fraud held for review: each referral's state (pending, qualified,
held, voided; the referrals made before are qualified, as they were final), the qualified share of each referral
count row, the holds with their reasons and evidence, the sign-in and activation footprints the fraud rules read
(a network prefix, a hash of the user agent, a first-party device id; deleted after their retention), the reward
rules, the rewards, and the programme's server-to-server API keys (stored hashed). The accounts view gains the
qualified count.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATES = "referral_state IN ('pending', 'qualified', 'held', 'voided')"

ACCOUNTS_BEFORE = """
    CREATE VIEW accounts AS
    SELECT u.id, u.phone, u.invite_code, u.first_name, u.last_name,
           inviter.invite_code AS activated_invite_code, u.invited_at,
           (SELECT COALESCE(SUM(c.referrals), 0) FROM referral_counts AS c WHERE c.user_id = u.id)
               AS referrals_count,
           u.created_at
    FROM users AS u
    LEFT JOIN users AS inviter ON inviter.id = u.invited_by_id
"""

ACCOUNTS = """
    CREATE VIEW accounts AS
    SELECT u.id, u.phone, u.invite_code, u.first_name, u.last_name,
           inviter.invite_code AS activated_invite_code, u.invited_at,
           counts.referrals AS referrals_count,
           u.created_at,
           counts.qualified AS qualified_referrals_count
    FROM users AS u
    LEFT JOIN users AS inviter ON inviter.id = u.invited_by_id
    CROSS JOIN LATERAL (
        SELECT COALESCE(SUM(c.referrals), 0) AS referrals, COALESCE(SUM(c.qualified), 0) AS qualified
        FROM referral_counts AS c WHERE c.user_id = u.id
    ) AS counts
"""

# SQLite has no LATERAL: two correlated sums.
ACCOUNTS_SQLITE = """
    CREATE VIEW accounts AS
    SELECT u.id, u.phone, u.invite_code, u.first_name, u.last_name,
           inviter.invite_code AS activated_invite_code, u.invited_at,
           (SELECT COALESCE(SUM(c.referrals), 0) FROM referral_counts AS c WHERE c.user_id = u.id)
               AS referrals_count,
           u.created_at,
           (SELECT COALESCE(SUM(c.qualified), 0) FROM referral_counts AS c WHERE c.user_id = u.id)
               AS qualified_referrals_count
    FROM users AS u
    LEFT JOIN users AS inviter ON inviter.id = u.invited_by_id
"""


def upgrade():
    postgresql = op.get_context().dialect.name == "postgresql"
    op.execute("DROP VIEW accounts")
    # Added in place (SQLite too: a batch copy of users would trip over the invite_codes view); the check is
    # PostgreSQL's, where it can be added to a table that exists.
    op.add_column("users", sa.Column("referral_state", sa.String(length=16), nullable=True))
    op.add_column("users", sa.Column("referral_state_at", sa.DateTime(timezone=True), nullable=True))
    if postgresql:
        op.create_check_constraint(op.f("ck_users_known_referral_state"), "users", STATES)
    op.execute(
        "UPDATE users SET referral_state = 'qualified', referral_state_at = invited_at WHERE invited_by_id IS NOT NULL"
    )
    # The referrals not yet qualified (pending, held, voided) are few next to the rest: the sweep that qualifies
    # them after N days, the review queue and the overview read this partial index.
    op.create_index(
        "ix_users_unqualified_referrals",
        "users",
        ["referral_state", "invited_at"],
        unique=False,
        postgresql_where=sa.text("referral_state <> 'qualified'"),
        sqlite_where=sa.text("referral_state <> 'qualified'"),
    )
    op.add_column("referral_counts", sa.Column("qualified", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE referral_counts SET qualified = referrals")
    op.execute(ACCOUNTS if postgresql else ACCOUNTS_SQLITE)

    op.create_table(
        "referral_holds",
        sa.Column("invitee_id", BigId, nullable=False),
        sa.Column("inviter_id", sa.BigInteger(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), server_default="{}", nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("qualify_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("decision IN ('approved', 'voided')", name=op.f("ck_referral_holds_known_decision")),
        sa.ForeignKeyConstraint(
            ["invitee_id"], ["users.id"], name=op.f("fk_referral_holds_invitee_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("invitee_id", name=op.f("pk_referral_holds")),
    )
    op.create_index("ix_referral_holds_held_at", "referral_holds", ["held_at"], unique=False)
    op.create_table(
        "footprints",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("network", sa.String(length=43), nullable=True),
        sa.Column("agent_hash", sa.String(length=16), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.CheckConstraint("kind IN ('sign_in')", name=op.f("ck_footprints_known_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_footprints_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footprints")),
    )
    op.create_index("ix_footprints_user_seen", "footprints", ["user_id", "seen_at"], unique=False)
    op.create_index("ix_footprints_seen_at", "footprints", ["seen_at"], unique=False)
    op.create_table(
        "reward_rules",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("beneficiary", sa.String(length=16), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=True),
        sa.Column("cap_days", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('per_referral', 'milestone')", name=op.f("ck_reward_rules_known_kind")),
        sa.CheckConstraint(
            "beneficiary IN ('inviter', 'invitee', 'both')", name=op.f("ck_reward_rules_known_beneficiary")
        ),
        sa.CheckConstraint(
            "(kind = 'milestone') = (threshold IS NOT NULL) AND (threshold IS NULL OR threshold > 0)",
            name=op.f("ck_reward_rules_milestone_threshold"),
        ),
        sa.CheckConstraint(
            "(cap IS NULL) = (cap_days IS NULL) AND (cap IS NULL OR (cap > 0 AND cap_days > 0))",
            name=op.f("ck_reward_rules_cap_with_period"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_reward_rules_amount_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_rules")),
    )
    op.create_table(
        "rewards",
        sa.Column("id", BigId, nullable=False),
        sa.Column("rule_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("occasion", sa.String(length=40), nullable=False),
        sa.Column("referral_id", sa.BigInteger(), nullable=True),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flagged", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "status IN ('earned', 'fulfilled', 'cancelled')", name=op.f("ck_rewards_known_status")
        ),
        sa.ForeignKeyConstraint(["rule_id"], ["reward_rules.id"], name=op.f("fk_rewards_rule_id_reward_rules")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_rewards_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
        sa.UniqueConstraint("rule_id", "user_id", "occasion", name="uq_rewards_once"),
    )
    op.create_index("ix_rewards_user", "rewards", ["user_id", "earned_at"], unique=False)
    op.create_index("ix_rewards_referral", "rewards", ["referral_id"], unique=False)
    op.create_index("ix_rewards_status", "rewards", ["status", "id"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )


def downgrade():
    postgresql = op.get_context().dialect.name == "postgresql"
    op.drop_table("api_keys")
    op.drop_index("ix_rewards_status", table_name="rewards")
    op.drop_index("ix_rewards_referral", table_name="rewards")
    op.drop_index("ix_rewards_user", table_name="rewards")
    op.drop_table("rewards")
    op.drop_table("reward_rules")
    op.drop_index("ix_footprints_seen_at", table_name="footprints")
    op.drop_index("ix_footprints_user_seen", table_name="footprints")
    op.drop_table("footprints")
    op.drop_index("ix_referral_holds_held_at", table_name="referral_holds")
    op.drop_table("referral_holds")
    op.execute("DROP VIEW accounts")
    op.execute("ALTER TABLE referral_counts DROP COLUMN qualified")
    op.drop_index("ix_users_unqualified_referrals", table_name="users")
    if postgresql:
        op.drop_constraint(op.f("ck_users_known_referral_state"), "users", type_="check")
    op.execute("ALTER TABLE users DROP COLUMN referral_state_at")
    op.execute("ALTER TABLE users DROP COLUMN referral_state")
    op.execute(ACCOUNTS_BEFORE)

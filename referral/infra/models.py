"""The tables. Invariants live in the schema (unique, foreign keys, checks); no commits happen here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, aliased, column_property, mapped_column, relationship

from referral import clock
from referral.extensions import db

# BIGINT identities on PostgreSQL; SQLite only autoincrements a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")

PHONE_LENGTH = 16  # E.164: "+" and at most 15 digits
INVITE_CODE_LENGTH = 6
# New codes: upper-case letters and digits without the look-alikes 0 O 1 I, 32 symbols, 32**6 ≈ 1.1e9 codes.
# Codes issued before also used the lower-case letters; every code is matched ignoring case (the invite_codes
# view, migration 0006), so a code read aloud or typed on a phone that capitalises the first letter is found.
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# How an invitee came to enter their inviter's code: through the invite link (/i/<code>), typed when signing up,
# or entered later on the profile.
INVITE_CHANNELS = ("link", "code_at_signup", "code_later")
# Where a referral stands (domain/qualification.py): pending until it qualifies, held while staff review it.
REFERRAL_STATES = ("pending", "qualified", "held", "voided")
NAME_LENGTH = 64


def now() -> datetime:
    """Column default: read through ``referral.clock`` at insert time, so tests can move the clock."""
    return clock.utcnow()


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on the way in and out, also on SQLite, which keeps no offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use referral.clock.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("invited_by_id <> id", name="not_self_invited"),
        CheckConstraint("(invited_by_id IS NULL) = (invited_at IS NULL)", name="invited_at_with_inviter"),
        CheckConstraint(
            "referral_state IN ('pending', 'qualified', 'held', 'voided')",
            name="known_referral_state",
            info={"postgresql_only": True},
        ),
        # Serves "my referrals, newest first" and the keyset pages after it, read backwards in index order.
        Index("ix_users_referrals", "invited_by_id", "invited_at", "id"),
        # Serves an invite code typed in any case (the invite_codes view).
        Index("ix_users_invite_code_folded", text("upper(invite_code)")),
        # Serve the console's daily roll-ups (sign-ups and activations of a range of days).
        Index("ix_users_created_at", "created_at"),
        Index("ix_users_invited_at", "invited_at"),
        # Serves the referrals not yet qualified, which are few: the sweep after N days, the queue, the overview.
        Index(
            "ix_users_unqualified_referrals",
            "referral_state",
            "invited_at",
            postgresql_where=text("referral_state <> 'qualified'"),
            sqlite_where=text("referral_state <> 'qualified'"),
        ),
        # Serve the console's search by any part of a phone or a name (pg_trgm; PostgreSQL only, migration 0009).
        Index(
            "ix_users_phone_trigrams",
            "phone",
            postgresql_using="gin",
            postgresql_ops={"phone": "gin_trgm_ops"},
            info={"postgresql_only": True},
        ),
        Index(
            "ix_users_name_trigrams",
            text("lower(first_name || ' ' || last_name) gin_trgm_ops"),
            postgresql_using="gin",
            info={"postgresql_only": True},
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(PHONE_LENGTH), unique=True)
    invite_code: Mapped[str] = mapped_column(String(INVITE_CODE_LENGTH), unique=True)
    first_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="", server_default="")
    invited_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    # How the inviter was entered (INVITE_CHANNELS), set with invited_by_id and cleared with it.
    invite_channel: Mapped[str | None] = mapped_column(String(16))
    # Blocked by staff: no sign-in, no session, and the invite code is nobody's until unblocked.
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where this user's referral stands (REFERRAL_STATES), set with invited_by_id, and since when.
    referral_state: Mapped[str | None] = mapped_column(String(16))
    referral_state_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    if TYPE_CHECKING:
        activated_invite_code: str | None  # mapped below, once the class exists to alias
        referrals_count: int  # mapped below, once ReferralCount exists

    def __repr__(self) -> str:
        return f"<User {self.id} {self.phone}>"


# The invite code this user entered (their inviter's), loaded with the user in the same query: a profile is
# then one query for session, user and code, and one for the newest referrals.
_inviter = aliased(User)
User.activated_invite_code = column_property(  # type: ignore[misc,assignment]
    select(_inviter.invite_code).where(_inviter.id == User.invited_by_id).scalar_subquery()
)


# How many rows a user's referral count is split over (docs/design.md, "The referral counts").
REFERRAL_COUNT_SLOTS = 16


class ReferralCount(db.Model):  # type: ignore[name-defined,misc]
    """A share of a user's referral count, kept by each activation in its own transaction (so a profile never
    counts 100,000 rows): the count is the sum of the user's rows, one per ``slot`` at most, and an activation
    adds one to a slot drawn at random. A deletion subtracts one the same way, so one slot may go below zero;
    the sum never does."""

    __tablename__ = "referral_counts"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    referrals: Mapped[int] = mapped_column(Integer)
    # The share of those referrals that qualified, kept the same way.
    qualified: Mapped[int] = mapped_column(Integer, server_default="0")


User.referrals_count = column_property(  # type: ignore[misc,assignment]
    select(func.coalesce(func.sum(ReferralCount.referrals), 0))
    .where(ReferralCount.user_id == User.id)
    .scalar_subquery()
)


class LoginCode(db.Model):  # type: ignore[name-defined,misc]
    """The one live one-time code for a phone and purpose; a new code replaces the row."""

    __tablename__ = "login_codes"
    __table_args__ = (
        UniqueConstraint("purpose", "phone", name="uq_login_codes_purpose_phone"),
        CheckConstraint(
            "purpose IN ('login', 'phone_change', 'account_deletion', 'console_signin')", name="known_purpose"
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str] = mapped_column(String(PHONE_LENGTH))
    # For a phone change: who asked. A login code belongs to no user yet.
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # A spent code stays until replaced, so that the resend interval still counts from when it was sent.
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthSession(db.Model):  # type: ignore[name-defined,misc]
    """One signed-in device: its tokens carry ``sid``; revoking the row ends both of them."""

    __tablename__ = "sessions"
    # The signed-out sessions, which are few: `flask maintenance purge` finds them without reading the rest.
    __table_args__ = (
        Index(
            "ix_sessions_revoked_at",
            "revoked_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
            sqlite_where=text("revoked_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The only refresh token of this session that may still be spent.
    refresh_jti: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The device it was started on (the user agent as sent, cut to 200 characters) and its last refresh.
    user_agent: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class SmsSend(db.Model):  # type: ignore[name-defined,misc]
    """One code sent to a phone: the history the hourly and daily caps count."""

    __tablename__ = "sms_sends"
    __table_args__ = (Index("ix_sms_sends_phone_sent_at", "phone", "sent_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(PHONE_LENGTH))
    purpose: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, index=True)
    # queued -> sent, or -> retrying -> ... -> sent | failed: what `flask sms status` reports.
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PhoneLockout(db.Model):  # type: ignore[name-defined,misc]
    """Consecutive wrong codes for a phone, across codes, and the lock they earned."""

    __tablename__ = "phone_lockouts"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures_not_negative"),)

    phone: Mapped[str] = mapped_column(String(PHONE_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


WEBHOOK_STATUSES = ("pending", "delivered", "failed", "disabled")
URL_LENGTH = 2048


class WebhookEvent(db.Model):  # type: ignore[name-defined,misc]
    """A fact for other systems (the outbox), written in the transaction of the change it reports.

    ``payload`` is the exact JSON body every delivery of the event sends, so that every retry signs the same
    bytes; ``id`` is its ``webhook-id``, the same on every retry, for receivers to deduplicate by.
    """

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, index=True)


class WebhookDelivery(db.Model):  # type: ignore[name-defined,misc]
    """One event for one endpoint: ``pending`` until a 2xx (``delivered``), the end of the retry schedule
    (``failed``) or a 410 from the endpoint (``disabled``).

    ``next_attempt_at`` is when it is due, and also the lease of a worker that claimed it: claiming moves it a
    lease ahead, so a worker that dies holding a delivery leaves it due again once the lease has passed.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {WEBHOOK_STATUSES}", name="known_status"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)

    event: Mapped[WebhookEvent] = relationship()  # so that a flush writes the event before its deliveries


class WebhookAttempt(db.Model):  # type: ignore[name-defined,misc]
    """One try of a delivery: what the endpoint answered (or the error), and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))


class WebhookEndpoint(db.Model):  # type: ignore[name-defined,misc]
    """An endpoint that answered 410 Gone: no more deliveries until ``flask webhooks enable URL``."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(URL_LENGTH), primary_key=True)
    disabled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)


STAFF_ROLES = ("support", "admin")


class Staff(db.Model):  # type: ignore[name-defined,misc]
    """A user who may enter the console (``flask staff grant``), with their role and authenticator secret.

    ``totp_last_step`` is the time step of the last authenticator code accepted: a code is taken once."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint("role IN ('support', 'admin')", name="known_role"),)

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    totp_secret: Mapped[str] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)


class ConsoleSession(db.Model):  # type: ignore[name-defined,misc]
    """A staff member signed in to the console; ``id`` is the SHA-256 of the cookie's token. Revoking the staff
    row deletes their sessions with it."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.user_id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    address: Mapped[str | None] = mapped_column(String(45))


class AuditEntry(db.Model):  # type: ignore[name-defined,misc]
    """What a staff member did, to whom, when, from where and why. Append-only: a trigger refuses UPDATE and
    DELETE (migration 0008). No foreign keys, so that it outlives the people it names."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_subject", "subject_id", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    staff_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_phone: Mapped[str] = mapped_column(String(PHONE_LENGTH))
    action: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(BigInteger)
    subject_phone: Mapped[str | None] = mapped_column(String(PHONE_LENGTH))
    reason: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")


class InviteLinkVisit(db.Model):  # type: ignore[name-defined,misc]
    """Visits of a user's invite link on a day (one per browser per day; no address kept)."""

    __tablename__ = "invite_link_visits"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    visits: Mapped[int] = mapped_column(Integer)


# A day's visits are kept in this many shares (a link's owner's id modulo it) beside the per-link rows.
LINK_VISIT_SLOTS = 16


class InviteLinkVisitDay(db.Model):  # type: ignore[name-defined,misc]
    """A share of a day's invite-link visits, kept by each visit beside its link's row (``slot``: the link owner's
    id modulo ``LINK_VISIT_SLOTS``), so that a day's visits are the sum of 16 rows at most, not of one row per link
    visited that day (7,700 of them at 10,000,000 users). The visits of a link whose owner was deleted later stay
    counted here, as the sign-ups' SMS do: they were the programme's traffic, and no row here names anyone."""

    __tablename__ = "invite_link_visit_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    visits: Mapped[int] = mapped_column(Integer)


class ProgrammeDay(db.Model):  # type: ignore[name-defined,misc]
    """One day of the programme as the overview draws it, recomputed from the raw rows by ``flask console
    rollup`` (docs/design.md, "The console's numbers")."""

    __tablename__ = "programme_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    signups_organic: Mapped[int] = mapped_column(Integer)
    signups_referred: Mapped[int] = mapped_column(Integer)
    activations_link: Mapped[int] = mapped_column(Integer)
    activations_code_at_signup: Mapped[int] = mapped_column(Integer)
    activations_code_later: Mapped[int] = mapped_column(Integer)
    link_visits: Mapped[int] = mapped_column(Integer)
    sms_sent: Mapped[int] = mapped_column(Integer)
    sms_failed: Mapped[int] = mapped_column(Integer)
    # The figures count the rows stamped from the day's start to here: its end once it had settled before the
    # roll-up ran, a few minutes before the roll-up for today (domain/programme.py, SETTLING).
    counted_until: Mapped[datetime] = mapped_column(UTCDateTime())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProgrammeTotal(db.Model):  # type: ignore[name-defined,misc]
    """A programme-wide figure too costly to count on every view (a sum over every inviter's count rows),
    saved by ``flask console rollup`` with the days (docs/design.md, "The console's numbers")."""

    __tablename__ = "programme_totals"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TopReferrer(db.Model):  # type: ignore[name-defined,misc]
    """The users with the most activations in the last ``range_days`` days, ranked, as of the last roll-up."""

    __tablename__ = "top_referrers"

    range_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    referrals: Mapped[int] = mapped_column(Integer)


class ReferralHold(db.Model):  # type: ignore[name-defined,misc]
    """A referral held by the fraud rules for staff to approve or void: the reasons and the evidence as they were
    found, kept after the decision (with who decided) until the signals' retention ends."""

    __tablename__ = "referral_holds"
    __table_args__ = (
        CheckConstraint("decision IN ('approved', 'voided')", name="known_decision"),
        Index("ix_referral_holds_held_at", "held_at"),
    )

    invitee_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    inviter_id: Mapped[int] = mapped_column(BigInteger)
    reasons: Mapped[str] = mapped_column(Text)  # comma-separated (domain/fraud.py REASONS)
    evidence: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")  # JSON
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    # The programme's backend reported the qualifying action while the referral was held: approval qualifies it.
    qualify_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TrustedInviter(db.Model):  # type: ignore[name-defined,misc]
    """An inviter staff trust with a burst of referrals (a planned campaign, an influencer): the volume rules
    (more than N an hour, numbers in sequence, one block of numbers) do not hold their referrals; the rules about
    one person inviting themselves (a shared browser or network, the number's type) still do."""

    __tablename__ = "trusted_inviters"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    trusted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trusted_by: Mapped[int | None] = mapped_column(BigInteger)  # the staff member; none from the CLI
    reason: Mapped[str] = mapped_column(Text)


class Footprint(db.Model):  # type: ignore[name-defined,misc]
    """What a sign-in leaves for the fraud rules, and no more: the client's network (its /24 or
    /48), a short hash of its user agent, the pages' first-party device id. Deleted after FRAUD_SIGNALS_DAYS."""

    __tablename__ = "footprints"
    __table_args__ = (
        CheckConstraint("kind IN ('sign_in')", name="known_kind"),
        Index("ix_footprints_user_seen", "user_id", "seen_at"),
        Index("ix_footprints_seen_at", "seen_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))
    network: Mapped[str | None] = mapped_column(String(43))
    agent_hash: Mapped[str | None] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(32))


class RewardRule(db.Model):  # type: ignore[name-defined,misc]
    """What a qualified referral earns, as data: per referral for the inviter, the invitee or both, or once at a
    milestone of ``threshold`` qualified referrals; at most ``cap`` per inviter in ``cap_days``. Rules are
    switched off, never deleted: rewards name them."""

    __tablename__ = "reward_rules"
    __table_args__ = (
        CheckConstraint("kind IN ('per_referral', 'milestone')", name="known_kind"),
        CheckConstraint("beneficiary IN ('inviter', 'invitee', 'both')", name="known_beneficiary"),
        CheckConstraint(
            "(kind = 'milestone') = (threshold IS NOT NULL) AND (threshold IS NULL OR threshold > 0)",
            name="milestone_threshold",
        ),
        CheckConstraint(
            "(cap IS NULL) = (cap_days IS NULL) AND (cap IS NULL OR (cap > 0 AND cap_days > 0))",
            name="cap_with_period",
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    beneficiary: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(80))
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))
    cap: Mapped[int | None] = mapped_column(Integer)
    cap_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)


class Reward(db.Model):  # type: ignore[name-defined,misc]
    """A reward earned by ``user_id`` under a rule on an ``occasion`` (``referral:<invitee id>:<side>`` or
    ``milestone``): unique, so a referral earns each rule's reward once and a milestone is earned once.
    ``flagged``: fulfilled, and its referral was voided afterwards (for staff)."""

    __tablename__ = "rewards"
    __table_args__ = (
        UniqueConstraint("rule_id", "user_id", "occasion", name="uq_rewards_once"),
        CheckConstraint("status IN ('earned', 'fulfilled', 'cancelled')", name="known_status"),
        Index("ix_rewards_user", "user_id", "earned_at"),
        Index("ix_rewards_referral", "referral_id"),
        Index("ix_rewards_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[int] = mapped_column(BigId, ForeignKey("reward_rules.id"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    occasion: Mapped[str] = mapped_column(String(40))
    referral_id: Mapped[int | None] = mapped_column(BigInteger)  # the invitee's id; none for a milestone
    label: Mapped[str] = mapped_column(String(80))
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # fulfilled or cancelled
    flagged: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class ApiKey(db.Model):  # type: ignore[name-defined,misc]
    """A key of the programme's own backend for the server-to-server API (``flask apikeys create``): the key
    is ``rk_<id>_<secret>``; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

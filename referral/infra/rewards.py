"""Reward rules and rewards: the rules as data, each reward written once (a unique occasion per rule and
person), the per-inviter lock that makes milestones and caps exact, and the lists the profile, the console and
the programme's API read."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Boolean, String

from referral.infra import sql
from referral.infra.database import dialect_name
from referral.infra.models import UTCDateTime

AT = {"at": UTCDateTime()}


class RuleRow(NamedTuple):
    id: int
    kind: str  # per_referral or milestone
    beneficiary: str  # inviter, invitee or both (per_referral); inviter (milestone)
    threshold: int | None
    label: str
    amount: int
    unit: str
    cap: int | None
    cap_days: int | None
    active: bool


ACTIVE_RULES = sql.Statement(
    """
    SELECT id, kind, beneficiary, threshold, label, amount, unit, cap, cap_days, active
    FROM reward_rules WHERE active ORDER BY id
    """
)

ALL_RULES = sql.Statement(
    """
    SELECT id, kind, beneficiary, threshold, label, amount, unit, cap, cap_days, active
    FROM reward_rules ORDER BY active DESC, id
    """
)

NEW_RULE = sql.Statement(
    """
    INSERT INTO reward_rules (kind, beneficiary, threshold, label, amount, unit, cap, cap_days, active, created_at)
    VALUES (:kind, :beneficiary, :threshold, :label, :amount, :unit, :cap, :cap_days, true, :at)
    RETURNING id
    """,
    AT,
)

SET_ACTIVE = sql.Statement("UPDATE reward_rules SET active = :active WHERE id = :rule_id RETURNING id")


class RewardRow(NamedTuple):
    id: int
    rule_id: int
    user_id: int
    user_phone: str
    occasion: str
    referral_id: int | None
    label: str
    amount: int
    unit: str
    status: str
    earned_at: datetime
    settled_at: datetime | None
    flagged: bool


REWARD_TIMES = {"earned_at": UTCDateTime(), "settled_at": UTCDateTime()}

# A reward, once: nothing if this rule already rewarded this person on this occasion.
EARN = sql.Statement(
    """
    INSERT INTO rewards (rule_id, user_id, occasion, referral_id, label, amount, unit, status, earned_at, flagged)
    VALUES (:rule_id, :user_id, :occasion, :referral_id, :label, :amount, :unit, 'earned', :at, false)
    ON CONFLICT (rule_id, user_id, occasion) DO NOTHING
    RETURNING id
    """,
    AT,
)

# The inviter's rewards under a rule since :since that still count against its cap.
EARNED_SINCE = sql.Statement(
    """
    SELECT count(*) FROM rewards
    WHERE rule_id = :rule_id AND user_id = :user_id AND earned_at > :since AND status <> 'cancelled'
    """,
    {"since": UTCDateTime()},
)

REWARD = sql.Statement(
    """
    SELECT r.id, r.rule_id, r.user_id, u.phone, r.occasion, r.referral_id, r.label, r.amount, r.unit, r.status,
           r.earned_at, r.settled_at, r.flagged
    FROM rewards AS r JOIN users AS u ON u.id = r.user_id
    WHERE r.id = :reward_id
    """,
    column_types=REWARD_TIMES,
)

# Settle an earned reward (fulfilled or cancelled); no row if it was settled already.
SETTLE = sql.Statement(
    """
    UPDATE rewards SET status = :status, settled_at = :at
    WHERE id = :reward_id AND status = 'earned'
    RETURNING id
    """,
    AT,
)

# A voided referral's rewards: the earned ones cancelled, the fulfilled ones flagged for staff.
CANCEL_OF_REFERRAL = sql.Statement(
    """
    UPDATE rewards SET status = 'cancelled', settled_at = :at
    WHERE referral_id = :invitee_id AND status = 'earned'
    RETURNING id
    """,
    AT,
)

FLAG_OF_REFERRAL = sql.Statement(
    """
    UPDATE rewards SET flagged = true
    WHERE referral_id = :invitee_id AND status = 'fulfilled' AND NOT flagged
    RETURNING id
    """
)

REWARDS_OF_USER = sql.Statement(
    """
    SELECT r.id, r.rule_id, r.user_id, u.phone, r.occasion, r.referral_id, r.label, r.amount, r.unit, r.status,
           r.earned_at, r.settled_at, r.flagged
    FROM rewards AS r JOIN users AS u ON u.id = r.user_id
    WHERE r.user_id = :user_id
    ORDER BY r.earned_at DESC, r.id DESC
    LIMIT :limit
    """,
    column_types=REWARD_TIMES,
)

# Rewards by status (all with :status NULL; the flagged ones with :flagged), newest first, before :before_id.
REWARDS = sql.Statement(
    """
    SELECT r.id, r.rule_id, r.user_id, u.phone, r.occasion, r.referral_id, r.label, r.amount, r.unit, r.status,
           r.earned_at, r.settled_at, r.flagged
    FROM rewards AS r JOIN users AS u ON u.id = r.user_id
    WHERE (:status IS NULL OR r.status = :status) AND (NOT :flagged OR r.flagged) AND r.id < :before_id
    ORDER BY r.id DESC
    LIMIT :limit
    """,
    {"status": String(), "flagged": Boolean()},
    REWARD_TIMES,
)

STATUS_COUNTS = sql.Statement(
    """
    SELECT status, count(*), COALESCE(SUM(amount), 0), COALESCE(SUM(CASE WHEN flagged THEN 1 ELSE 0 END), 0)
    FROM rewards GROUP BY status
    """
)

LOCK = sql.Statement("SELECT pg_advisory_xact_lock(:key)")


def active_rules() -> list[RuleRow]:
    return [_rule(row) for row in sql.run(ACTIVE_RULES, {})]


def all_rules() -> list[RuleRow]:
    return [_rule(row) for row in sql.run(ALL_RULES, {})]


def _rule(row: tuple[Any, ...]) -> RuleRow:
    return RuleRow._make((*row[:9], bool(row[9])))  # SQLite gives its booleans as 0 and 1


def new_rule(
    kind: str,
    beneficiary: str,
    threshold: int | None,
    label: str,
    amount: int,
    unit: str,
    cap: int | None,
    cap_days: int | None,
    at: datetime,
) -> int:
    params = {"kind": kind, "beneficiary": beneficiary, "threshold": threshold, "label": label, "amount": amount}
    rule_id: int = sql.run(NEW_RULE, params | {"unit": unit, "cap": cap, "cap_days": cap_days, "at": at})[0][0]
    return rule_id


def set_active(rule_id: int, active: bool) -> bool:
    return bool(sql.run(SET_ACTIVE, {"rule_id": rule_id, "active": active}))


def lock_rewards_of(inviter_id: int) -> None:
    """Until the transaction ends, hold the inviter's rewards lock (PostgreSQL; SQLite runs one writer at a
    time): their milestones and caps are then counted by one transaction at a time."""
    if dialect_name() != "postgresql":
        return
    digest = hashlib.sha256(f"referral-rewards:{inviter_id}".encode()).digest()
    sql.run(LOCK, {"key": int.from_bytes(digest[:8], "big", signed=True)})


def earn(rule: RuleRow, user_id: int, occasion: str, referral_id: int | None, at: datetime) -> int | None:
    """The id of the reward ``rule`` gives ``user_id`` on ``occasion``, if it was not given before."""
    params = {"rule_id": rule.id, "user_id": user_id, "occasion": occasion, "referral_id": referral_id}
    rows = sql.run(EARN, params | {"label": rule.label, "amount": rule.amount, "unit": rule.unit, "at": at})
    return rows[0][0] if rows else None


def earned_since(rule_id: int, user_id: int, since: datetime) -> int:
    return int(sql.run(EARNED_SINCE, {"rule_id": rule_id, "user_id": user_id, "since": since})[0][0])


def reward(reward_id: int) -> RewardRow | None:
    rows = sql.run(REWARD, {"reward_id": reward_id})
    return _row(rows[0]) if rows else None


def settle(reward_id: int, status: str, at: datetime) -> bool:
    return bool(sql.run(SETTLE, {"reward_id": reward_id, "status": status, "at": at}))


def cancel_of_referral(invitee_id: int, at: datetime) -> list[int]:
    return [reward_id for (reward_id,) in sql.run(CANCEL_OF_REFERRAL, {"invitee_id": invitee_id, "at": at})]


def flag_of_referral(invitee_id: int) -> list[int]:
    return [reward_id for (reward_id,) in sql.run(FLAG_OF_REFERRAL, {"invitee_id": invitee_id})]


def rewards_of_user(user_id: int, limit: int) -> list[RewardRow]:
    return [_row(row) for row in sql.run(REWARDS_OF_USER, {"user_id": user_id, "limit": limit})]


def rewards(status: str | None, flagged: bool, before_id: int, limit: int) -> list[RewardRow]:
    params = {"status": status, "flagged": flagged, "before_id": before_id, "limit": limit}
    return [_row(row) for row in sql.run(REWARDS, params)]


def status_counts() -> dict[str, tuple[int, int, int]]:
    """Per status: how many rewards, their amounts' sum (across units), how many are flagged."""
    return {status: (int(n), int(total), int(flagged)) for status, n, total, flagged in sql.run(STATUS_COUNTS, {})}


def _row(row: tuple[Any, ...]) -> RewardRow:
    return RewardRow._make((*row[:12], bool(row[12])))

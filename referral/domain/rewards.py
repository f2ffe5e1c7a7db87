"""Rewards: what a qualified referral earns under the programme's rules, each reward once.

A referral earns each per-referral rule's reward once (the inviter's, the invitee's, or both), a milestone of N
qualified referrals is earned once, and a cap counts an inviter's rewards of a rule in a period: the database
settles all three (a unique occasion per rule and person; milestones and caps counted under a per-inviter lock
held to the commit). ``docs/design.md``, "Rewards exactly once", has the argument.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cachetools import TTLCache

from referral import clock
from referral.domain import events
from referral.domain.errors import RewardCancelled, RewardNotFound, RewardRuleInvalid
from referral.extensions import db
from referral.infra import referral_states
from referral.infra import rewards as store
from referral.infra.rewards import RewardRow, RuleRow
from referral.infra.sql import NEWEST_ID

KINDS = ("per_referral", "milestone")
BENEFICIARIES = ("inviter", "invitee", "both")
# How long each process keeps the active rules; a rule changed in the console applies everywhere after this.
RULES_SECONDS = 5.0
_rules: TTLCache[str, list[RuleRow]] = TTLCache(maxsize=1, ttl=RULES_SECONDS)
_rules_lock = threading.Lock()


def active_rules() -> list[RuleRow]:
    """The rules in force (kept for RULES_SECONDS per process)."""
    with _rules_lock:
        if (rules := _rules.get("active")) is None:
            rules = _rules["active"] = store.active_rules()
        return rules


def forget_rules() -> None:
    with _rules_lock:
        _rules.clear()


def earn_for_referral(invitee: dict[str, Any], inviter: dict[str, Any], at: datetime) -> list[int]:
    """What the qualified referral of ``invitee`` by ``inviter`` (as events name them) earns, in the caller's
    transaction, each with its ``reward.earned`` event; the new rewards' ids."""
    rules = active_rules()
    if not rules:
        return []
    if any(rule.kind == "milestone" or rule.cap is not None for rule in rules):
        store.lock_rewards_of(inviter["id"])
    occasion = f"referral:{invitee['id']}"
    earned: list[tuple[int | None, RuleRow, dict[str, Any]]] = []
    for rule in (rule for rule in rules if rule.kind == "per_referral"):
        if rule.beneficiary in ("inviter", "both") and under_cap(rule, inviter["id"], at):
            earned.append((store.earn(rule, inviter["id"], occasion, invitee["id"], at), rule, inviter))
        if rule.beneficiary in ("invitee", "both"):
            earned.append((store.earn(rule, invitee["id"], occasion, invitee["id"], at), rule, invitee))
    milestones = [rule for rule in rules if rule.kind == "milestone"]
    if milestones:
        qualified = referral_states.qualified_of(inviter["id"])
        for rule in milestones:
            if rule.threshold is not None and qualified >= rule.threshold:
                earned.append((store.earn(rule, inviter["id"], "milestone", None, at), rule, inviter))
    new = []
    for reward_id, rule, person in earned:
        if reward_id is not None:
            new.append(reward_id)
            events.reward_earned(reward_event(reward_id, rule, person, invitee["id"], at))
    return new


def under_cap(rule: RuleRow, inviter_id: int, at: datetime) -> bool:
    """Whether the inviter may still earn ``rule``'s reward now (no cap, or fewer than it in the period)."""
    if rule.cap is None or rule.cap_days is None:
        return True
    return store.earned_since(rule.id, inviter_id, at - timedelta(days=rule.cap_days)) < rule.cap


def reward_event(reward_id: int, rule: RuleRow, person: dict[str, Any], invitee_id: int, at: datetime) -> dict:
    referral = invitee_id if rule.kind == "per_referral" else None
    return {
        "id": reward_id,
        "rule_id": rule.id,
        "kind": rule.kind,
        "user": person,
        "referral_id": referral,
        "label": rule.label,
        "amount": rule.amount,
        "unit": rule.unit,
        "earned_at": events.iso(at),
    }


@dataclass(frozen=True)
class Settled:
    cancelled: list[int]
    flagged: list[int]


def settle_for_voided(invitee_id: int, at: datetime) -> Settled:
    """A voided referral's rewards: the unfulfilled ones cancelled (each with ``reward.cancelled``), the
    fulfilled ones flagged for staff (already paid: only a person can take them back)."""
    cancelled = store.cancel_of_referral(invitee_id, at)
    for reward_id in cancelled:
        events.reward_settled(events.REWARD_CANCELLED, reward_id, at)
    return Settled(cancelled, store.flag_of_referral(invitee_id))


def fulfil(reward_id: int, commit: bool = True) -> RewardRow:
    """Mark the reward paid (idempotent: fulfilling it again changes nothing), with ``reward.fulfilled``, and
    commit unless the caller will. ``RewardCancelled`` if its referral was voided first."""
    now = clock.utcnow()
    if store.settle(reward_id, "fulfilled", now):
        events.reward_settled(events.REWARD_FULFILLED, reward_id, now)
    if commit:
        db.session.commit()
    found = store.reward(reward_id)
    if found is None:
        raise RewardNotFound
    if found.status == "cancelled":
        raise RewardCancelled
    return found


def rewards_of(user_id: int, limit: int = 50) -> list[RewardRow]:
    return store.rewards_of_user(user_id, limit)


@dataclass(frozen=True)
class RewardPage:
    items: list[RewardRow]
    next_before: int | None  # the id to list before for the next page; none on the last


def listed(
    status: str | None = None, flagged: bool = False, before_id: int | None = None, limit: int = 50
) -> RewardPage:
    """Rewards newest first (by status, the flagged ones), ``limit`` at a time before ``before_id``."""
    rows = store.rewards(status, flagged, before_id or NEWEST_ID, limit + 1)
    return RewardPage(rows[:limit], rows[limit - 1].id if len(rows) > limit else None)


@dataclass(frozen=True)
class Milestone:
    threshold: int
    label: str
    amount: int
    unit: str
    qualified: int

    @property
    def remaining(self) -> int:
        return max(0, self.threshold - self.qualified)


def next_milestone(qualified: int) -> Milestone | None:
    """The lowest milestone in force above ``qualified`` qualified referrals, if any."""
    ahead = [r for r in active_rules() if r.kind == "milestone" and r.threshold and r.threshold > qualified]
    if not ahead:
        return None
    rule = min(ahead, key=lambda r: r.threshold or 0)
    return Milestone(rule.threshold or 0, rule.label, rule.amount, rule.unit, qualified)


def rules() -> list[RuleRow]:
    return store.all_rules()


def add_rule(
    kind: str,
    beneficiary: str,
    label: str,
    amount: int,
    unit: str,
    threshold: int | None = None,
    cap: int | None = None,
    cap_days: int | None = None,
) -> int:
    """A new rule in force (checked here, in words, before the database's checks); its id. The caller commits."""
    label, unit = label.strip(), unit.strip()
    if kind not in KINDS or beneficiary not in BENEFICIARIES:
        raise RewardRuleInvalid("A rule is per referral or a milestone, for the inviter, the invitee or both.")
    if kind == "milestone" and (threshold is None or threshold < 1 or beneficiary != "inviter"):
        raise RewardRuleInvalid("A milestone needs a number of qualified referrals (1 or more), for the inviter.")
    if kind == "per_referral" and threshold is not None:
        raise RewardRuleInvalid("Only a milestone has a number of referrals.")
    if not label or len(label) > 80 or not unit or len(unit) > 16 or amount < 0:
        raise RewardRuleInvalid("A rule needs a label (80 characters at most), an amount of 0 or more and a unit.")
    if (cap is None) != (cap_days is None) or (cap is not None and (cap < 1 or (cap_days or 0) < 1)):
        raise RewardRuleInvalid("A cap needs both a number of rewards and a period in days, each 1 or more.")
    rule_id = store.new_rule(kind, beneficiary, threshold, label, amount, unit, cap, cap_days, clock.utcnow())
    forget_rules()
    return rule_id


def switch_rule(rule_id: int, active: bool) -> bool:
    """Put a rule in or out of force; whether it exists. The caller commits."""
    found = store.set_active(rule_id, active)
    forget_rules()
    return found


@dataclass(frozen=True)
class Standing:
    """What a person sees of the programme: their rewards, their qualified referrals, the next milestone."""

    rewards: list[RewardRow]
    qualified_referrals_count: int
    next_milestone: Milestone | None


def standing_of(account: Any) -> Standing:
    """For the profile (API and page) of ``account`` (a ``domain.account.Account``)."""
    qualified = account.qualified_referrals_count
    return Standing(rewards_of(account.id), qualified, next_milestone(qualified))

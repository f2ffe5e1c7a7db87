"""What staff do about the programme in the console: the review queue of held referrals (the reasons and the
evidence of both sides), approving or voiding them, fulfilling rewards, editing the reward rules; each
recorded in the audit log in the transaction of what it did."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from referral.domain import fraud, qualification, rewards
from referral.domain.errors import ReferralNotFound, ReferralNotHeld, UserNotFound
from referral.domain.staff import ConsoleStaff, given_reason, record
from referral.extensions import db
from referral.infra import fraud_signals, referral_states, user_directory
from referral.infra import rewards as reward_store
from referral.infra.fraud_signals import FootprintRow, HoldRow

QUEUE_PAGE = 50


@dataclass(frozen=True)
class Held:
    """A held referral as the queue shows it: the hold, its evidence, and both sides' footprints."""

    hold: HoldRow
    reasons: list[str]
    evidence: dict[str, Any]
    invitee_footprints: list[FootprintRow]
    inviter_footprints: list[FootprintRow]

    @property
    def shared(self) -> set[str]:
        """The networks and device ids both sides were seen with (the evidence to look at first)."""
        mine = {value for row in self.invitee_footprints for value in (row.network, row.device_id) if value}
        theirs = {value for row in self.inviter_footprints for value in (row.network, row.device_id) if value}
        request = self.evidence.get("request", {})
        mine |= {value for value in (request.get("network"), request.get("device_id")) if value}
        return mine & theirs


def queue(limit: int = QUEUE_PAGE) -> list[Held]:
    """The referrals held now, oldest first, with the footprints of both sides."""
    return [
        Held(
            hold,
            hold.reasons.split(","),
            json.loads(hold.evidence or "{}"),
            fraud_signals.footprints_of(hold.invitee_id),
            fraud_signals.footprints_of(hold.inviter_id),
        )
        for hold in fraud_signals.held(limit)
    ]


def counts() -> dict[str, int]:
    """How many referrals stand in each state, for the overview."""
    return {state: 0 for state in qualification.STATES} | referral_states.state_counts()


def reward_counts() -> dict[str, tuple[int, int, int]]:
    return reward_store.status_counts()


def approve(staff: ConsoleStaff, invitee_id: int, reason: str | None) -> qualification.Referral:
    """The held referral is honest: it goes on as one (``qualification.approve``); recorded; commits."""
    hold = fraud_signals.hold_of(invitee_id)
    if hold is None:
        raise ReferralNotHeld
    approved = qualification.approve(invitee_id, staff.user_id)
    record(staff, "referral.approved", invitee_id, hold.invitee_phone, reason, now=approved.state)
    db.session.commit()
    return approved


def void(staff: ConsoleStaff, invitee_id: int, reason: str | None, held_only: bool = False) -> rewards.Settled:
    """Void the referral (a held one from the queue, ``held_only``; any from the user's page): a reason is
    required, its rewards are settled; recorded; commits."""
    reason = given_reason(reason)
    standing = referral_states.standing(invitee_id)
    if standing is None or standing.state is None:
        raise ReferralNotFound
    if held_only and standing.state != qualification.HELD:
        raise ReferralNotHeld
    _, settled = qualification.void(invitee_id, reason, by="staff", staff_id=staff.user_id, commit=False)
    record(
        staff,
        "referral.voided",
        invitee_id,
        standing.invitee_phone,
        reason,
        was=standing.state,
        cancelled=settled.cancelled,
        flagged=settled.flagged,
    )
    db.session.commit()
    return settled


def fulfil(staff: ConsoleStaff, reward_id: int, reason: str | None) -> reward_store.RewardRow:
    """Staff paid the reward by hand: fulfilled; recorded; commits."""
    fulfilled = rewards.fulfil(reward_id, commit=False)
    record(staff, "reward.fulfilled", fulfilled.user_id, fulfilled.user_phone, reason, reward=reward_id)
    db.session.commit()
    return fulfilled


def add_rule(staff: ConsoleStaff, **fields: Any) -> int:
    """A new reward rule in force (``rewards.add_rule`` checks it); recorded; commits."""
    rule_id = rewards.add_rule(**fields)
    record(staff, "reward_rule.added", rule=rule_id, **fields)
    db.session.commit()
    return rule_id


def switch_rule(staff: ConsoleStaff, rule_id: int, active: bool) -> bool:
    switched = rewards.switch_rule(rule_id, active)
    if switched:
        record(staff, "reward_rule.switched", rule=rule_id, active=active)
    db.session.commit()
    return switched


def trust_inviter(staff: ConsoleStaff, user_id: int, reason: str | None) -> None:
    """Trust the user with a burst of referrals (``fraud.trust``): a reason is required; recorded; commits."""
    reason = given_reason(reason)
    found = user_directory.user(user_id)
    if found is None:
        raise UserNotFound
    fraud.trust(user_id, reason, staff.user_id)
    record(staff, "inviter.trusted", user_id, found.phone, reason)
    db.session.commit()


def distrust_inviter(staff: ConsoleStaff, user_id: int, reason: str | None) -> bool:
    """The volume rules apply to the user again; recorded if they were trusted; commits."""
    found = user_directory.user(user_id)
    if found is None:
        raise UserNotFound
    was = fraud.distrust(user_id)
    if was:
        record(staff, "inviter.distrusted", user_id, found.phone, reason)
    db.session.commit()
    return was

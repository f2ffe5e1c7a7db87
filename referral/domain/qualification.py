"""Where a referral stands: ``pending`` until it qualifies, ``qualified`` (its rewards follow), ``held`` while
staff review what the fraud rules found, ``voided`` by staff or by the programme's backend.

What qualifies is ``QUALIFY_REFERRALS``: ``immediate`` (at the activation), ``after_days:N`` (the invitee is
still there N days later: ``flask referrals qualify-due`` from cron), or ``on_event`` (the programme's backend
reports the qualifying action). Every transition is one conditional statement (``infra/referral_states.py``):
however many calls race, one moves the referral, and only that one counts it, announces it and rewards it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from referral import clock
from referral.domain import events, fraud, rewards
from referral.domain.errors import ReferralNotFound, ReferralNotHeld, ReferralVoided
from referral.extensions import db
from referral.infra import fraud_signals, referral_states, referral_tree
from referral.infra.models import REFERRAL_COUNT_SLOTS, REFERRAL_STATES

PENDING, QUALIFIED, HELD, VOIDED = "pending", "qualified", "held", "voided"
STATES = REFERRAL_STATES


def mode() -> tuple[str, int]:
    mode_and_days: tuple[str, int] = current_app.config["QUALIFY_REFERRALS"]
    return mode_and_days


def first_state(verdict: fraud.Verdict) -> str:
    """A new referral's state: held if the fraud rules found something, else qualified when referrals qualify
    at once, else pending."""
    if verdict.held:
        return HELD
    return QUALIFIED if mode()[0] == "immediate" else PENDING


def hold_for(invitee_id: int, state: str, verdict: fraud.Verdict, at: datetime) -> referral_tree.Hold | None:
    """The hold for review a new referral in ``state`` is counted with (it is written in the count's round
    trip), if it is held."""
    if state != HELD:
        return None
    return referral_tree.Hold(invitee_id, ",".join(verdict.reasons), verdict.evidence_json(), at)


def announce_new(
    invitee: dict[str, Any], inviter: dict[str, Any], state: str, verdict: fraud.Verdict, at: datetime
) -> None:
    """After a referral was made in ``state`` (and counted, with its hold if held): its event, and a qualified
    one's rewards, in the caller's transaction."""
    if state == HELD:
        events.referral_moved(events.REFERRAL_HELD, invitee, inviter, at, reasons=list(verdict.reasons))
    elif state == QUALIFIED:
        _announce_qualified(invitee, inviter, at)


def _announce_qualified(invitee: dict[str, Any], inviter: dict[str, Any], at: datetime) -> None:
    events.referral_moved(events.REFERRAL_QUALIFIED, invitee, inviter, at)
    rewards.earn_for_referral(invitee, inviter, at)


def count_qualified(inviter_id: int, change: int) -> None:
    """One more (``change`` -1: one fewer) qualified referral on one of the inviter's count rows."""
    referral_tree.count_referral(inviter_id, secrets.randbelow(REFERRAL_COUNT_SLOTS), 0, qualified=change)


@dataclass(frozen=True)
class Referral:
    """A referral as the programme's API and the console answer it."""

    invitee_id: int
    inviter_id: int
    state: str
    invited_at: datetime


def _standing(invitee_id: int) -> referral_states.Standing:
    found = referral_states.standing(invitee_id)
    if found is None or found.state is None:
        raise ReferralNotFound
    return found


def _people(found: referral_states.Standing) -> tuple[dict[str, Any], dict[str, Any]]:
    invitee = events.person(found.invitee_id, found.invitee_phone)
    return invitee, events.person(found.inviter_id, found.inviter_phone, found.inviter_code)


def _as_referral(found: referral_states.Standing, state: str | None = None) -> Referral:
    return Referral(found.invitee_id, found.inviter_id, state or found.state, found.invited_at)


def qualify(found: referral_states.Standing, was: str, now: datetime) -> bool:
    """Move ``found`` from ``was`` to qualified; if this call did: count, announce, reward. The caller commits."""
    if referral_states.move(found.invitee_id, was, QUALIFIED, now) is None:
        return False
    count_qualified(found.inviter_id, +1)
    _announce_qualified(*_people(found), now)
    return True


def report_qualifying_action(invitee_id: int) -> Referral:
    """The programme's backend says the invitee did what qualifies them (``on_event``; in any mode it
    qualifies a pending referral). Idempotent. A held referral stays held, and qualifies when staff approve it.
    Commits."""
    now = clock.utcnow()
    found = _standing(invitee_id)
    if found.state == VOIDED:
        raise ReferralVoided
    if found.state == HELD:
        fraud_signals.request_qualify(invitee_id, now)
    elif found.state == PENDING and qualify(found, PENDING, now):
        found = found._replace(state=QUALIFIED)
    db.session.commit()
    return _as_referral(_standing(invitee_id)) if found.state == PENDING else _as_referral(found)


def void(
    invitee_id: int, reason: str, by: str, staff_id: int | None = None, commit: bool = True
) -> tuple[Referral, rewards.Settled]:
    """Void the referral (from any state but voided) with ``reason``, by ``by`` (``programme`` or ``staff``):
    a qualified one counts no more as qualified, its unfulfilled rewards are cancelled and the fulfilled ones
    flagged, all said in ``referral.voided``. Idempotent; commits unless the caller will (``commit``)."""
    now = clock.utcnow()
    for _ in range(len(STATES)):  # the state moved under us: read it again (each move happens once)
        found = _standing(invitee_id)
        if found.state == VOIDED:
            return _as_referral(found), rewards.Settled([], [])
        if referral_states.move(invitee_id, found.state, VOIDED, now) is not None:
            break
    else:
        raise ReferralNotFound  # never settled: the referral kept moving (it does not: each state is left once)
    if found.state == QUALIFIED:
        count_qualified(found.inviter_id, -1)
    if found.state == HELD:
        fraud_signals.decide(invitee_id, VOIDED, staff_id, now)
    settled = rewards.settle_for_voided(invitee_id, now)
    invitee, inviter = _people(found)
    events.referral_moved(
        events.REFERRAL_VOIDED,
        invitee,
        inviter,
        now,
        reason=reason,
        by=by,
        was=found.state,
        cancelled_rewards=settled.cancelled,
        flagged_rewards=settled.flagged,
    )
    if commit:
        db.session.commit()
    return _as_referral(found, VOIDED), settled


def approve(invitee_id: int, staff_id: int) -> Referral:
    """Staff found a held referral honest: it qualifies if referrals qualify at once, if the programme's
    backend already reported the qualifying action, or if its N days are over; else it is pending. The caller
    commits (with its audit entry)."""
    now = clock.utcnow()
    found = _standing(invitee_id)
    if found.state != HELD:
        raise ReferralNotHeld
    how, days = mode()
    due = (
        how == "immediate"
        or fraud_signals.qualify_requested(invitee_id)
        or (how == "after_days" and found.invited_at <= now - timedelta(days=days))
    )
    if due:
        moved = qualify(found, HELD, now)
    else:
        moved = referral_states.move(invitee_id, HELD, PENDING, now) is not None
    if not moved:
        raise ReferralNotHeld  # decided by someone else a moment ago
    fraud_signals.decide(invitee_id, "approved", staff_id, now)
    return _as_referral(found, QUALIFIED if due else PENDING)


def referral(invitee_id: int) -> Referral:
    return _as_referral(_standing(invitee_id))


def qualify_due(batch: int = 500) -> int:
    """With ``after_days:N``: qualify the pending referrals whose invitee joined N days ago and is still there
    (not deleted, not blocked), a batch per transaction; how many qualified."""
    how, days = mode()
    if how != "after_days":
        return 0
    qualified = 0
    while True:
        now = clock.utcnow()
        due = referral_states.due(now - timedelta(days=days), batch)
        for invitee_id in due:
            found = referral_states.standing(invitee_id)
            if found is not None and not found.blocked and qualify(found, PENDING, now):
                qualified += 1
        db.session.commit()
        if len(due) < batch:
            return qualified

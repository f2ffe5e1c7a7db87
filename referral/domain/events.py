"""Referral events for other systems, written to the outbox in the transaction of the change they report.

A change that rolls back emits nothing; a committed change has its events committed with it, and the delivery
(``infra/webhooks.py``) sends them until each endpoint acknowledges, even if this process dies right after the
commit. Nothing is written while no endpoint is configured (``WEBHOOK_URLS``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from flask import current_app

from referral import clock
from referral.extensions import db
from referral.infra import metrics, outbox

USER_CREATED = "user.created"
REFERRAL_ACTIVATED = "referral.activated"
USER_PHONE_CHANGED = "user.phone_changed"
USER_DELETED = "user.deleted"
REFERRAL_REVOKED = "referral.revoked"
REFERRAL_QUALIFIED = "referral.qualified"
REFERRAL_HELD = "referral.held"
REFERRAL_VOIDED = "referral.voided"
REWARD_EARNED = "reward.earned"
REWARD_CANCELLED = "reward.cancelled"
REWARD_FULFILLED = "reward.fulfilled"


def subscribers(event_type: str) -> list[str]:
    """The endpoints of ``WEBHOOK_URLS`` that want ``event_type``."""
    return [url for url, types in current_app.config["WEBHOOK_URLS"] if event_type in types]


def emit(event_type: str, data: dict[str, Any]) -> str | None:
    """Add the event and one delivery per endpoint that wants it to the caller's transaction; the event id."""
    urls = subscribers(event_type)
    if not urls:
        return None
    now = clock.utcnow()
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {"type": event_type, "timestamp": iso(now), "data": data}
    outbox.add_event(event_id, event_type, json.dumps(body), urls, now)
    return event_id


def replay(event_id: str, event_type: str) -> list[str]:
    """Deliver the event again, now, with its own id, to every endpoint that wants its type; commit; those."""
    urls = subscribers(event_type)
    outbox.deliver_again(event_id, urls, clock.utcnow())
    db.session.commit()
    return urls


def person(user_id: int, phone: str, invite_code: str | None = None) -> dict[str, Any]:
    """How events name a user."""
    return {"id": user_id, "phone": phone} | ({"invite_code": invite_code} if invite_code is not None else {})


def user_created(user: Any, inviter: dict[str, Any] | None) -> None:
    metrics.count_on_commit(db.session(), metrics.SIGNUPS, "no" if inviter is None else "yes")
    emit(USER_CREATED, {"user": person(user.id, user.phone, user.invite_code), "inviter": inviter})


def referral_activated(
    invitee: dict[str, Any], inviter: dict[str, Any], invite_code: str, at: datetime, channel: str
) -> None:
    """``channel`` (link, code_at_signup, code_later) was added after the first release: a new field."""
    metrics.count_on_commit(db.session(), metrics.ACTIVATIONS, channel)
    data = {"invitee": invitee, "inviter": inviter, "invite_code": invite_code, "activated_at": iso(at)}
    emit(REFERRAL_ACTIVATED, data | {"channel": channel})


def phone_changed(user_id: int, old_phone: str, new_phone: str) -> None:
    emit(USER_PHONE_CHANGED, {"user_id": user_id, "old_phone": old_phone, "new_phone": new_phone})


def user_deleted(user_id: int, phone: str, detached_referral_ids: list[int]) -> None:
    emit(USER_DELETED, {"user": person(user_id, phone), "detached_referrals": detached_referral_ids})


def referral_revoked(invitee: dict[str, Any], inviter: dict[str, Any], invite_code: str, at: datetime) -> None:
    """Staff undid a referral: the invitee is no longer the inviter's referral (and may enter another code)."""
    emit(REFERRAL_REVOKED, {"invitee": invitee, "inviter": inviter, "invite_code": invite_code, "revoked_at": iso(at)})


def referral_moved(
    event_type: str, invitee: dict[str, Any], inviter: dict[str, Any], at: datetime, **details: Any
) -> None:
    """A referral qualified, was held (``reasons``) or voided (``reason``, ``by``, the rewards it cancelled and
    the fulfilled ones it flagged)."""
    metrics.count_on_commit(db.session(), metrics.REFERRAL_STATES, event_type.removeprefix("referral."))
    emit(event_type, {"invitee": invitee, "inviter": inviter, "at": iso(at)} | details)


def reward_earned(reward: dict[str, Any]) -> None:
    emit(REWARD_EARNED, {"reward": reward})


def reward_settled(event_type: str, reward_id: int, at: datetime) -> None:
    """A reward was fulfilled or cancelled."""
    emit(event_type, {"reward_id": reward_id, "at": iso(at)})


def iso(moment: datetime) -> str:
    """How events write a time: ISO 8601 in UTC with ``Z``."""
    return moment.isoformat().replace("+00:00", "Z")

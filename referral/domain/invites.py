"""Invite codes and the activation rules, used by the profile and by sign-in: once per user, never your own
code, never a code that closes a loop in the referral tree."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, literal, select, update
from sqlalchemy.orm import aliased

from referral import clock
from referral.domain import events
from referral.domain.errors import InviteAlreadyActivated, InviteCodeNotFound, InviteCodeOwn, InviteCycle
from referral.extensions import db
from referral.infra.database import lock_for_transaction
from referral.infra.models import INVITE_ALPHABET, INVITE_CODE_LENGTH, User

# Any constant shared by every process; it names the lock that serialises activations (see activate_invite).
ACTIVATION_LOCK_KEY = 0x5EF_E22A1


def generate_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


@dataclass(frozen=True)
class Activation:
    invited_at: datetime
    inviter: dict[str, Any]  # as events name a user


def activate_invite(user_id: int, phone: str, invite_code: str, already_invited: bool = False) -> Activation:
    """Make the owner of ``invite_code`` the inviter of ``user_id`` (whose phone is ``phone``), inside the
    caller's transaction, with its ``referral.activated`` event.

    Exactly one activation per user wins: the write is ``UPDATE ... WHERE invited_by_id IS NULL``. A cycle check
    followed by a write could still close a loop if two users entered each other's codes at the same moment, so
    activations take one transaction-level lock first: they are short and happen once per user, and the lock
    costs less than any cleverer scheme would cost to get right.
    """
    if already_invited:
        raise InviteAlreadyActivated
    lock_for_transaction(ACTIVATION_LOCK_KEY)
    inviter_row = db.session.execute(select(User.id, User.phone).where(User.invite_code == invite_code)).first()
    if inviter_row is None:
        raise InviteCodeNotFound
    inviter_id, inviter_phone = inviter_row
    if inviter_id == user_id:
        raise InviteCodeOwn
    if is_in_referral_tree(inviter_id, root_id=user_id):
        raise InviteCycle
    invited_at = clock.utcnow()
    activated = db.session.execute(
        update(User)
        .where(User.id == user_id, User.invited_by_id.is_(None))
        .values(invited_by_id=inviter_id, invited_at=invited_at)
    )
    if activated.rowcount != 1:  # type: ignore[attr-defined]
        raise InviteAlreadyActivated
    db.session.execute(update(User).where(User.id == inviter_id).values(referrals_count=User.referrals_count + 1))
    inviter = events.person(inviter_id, inviter_phone, invite_code)
    events.referral_activated(events.person(user_id, phone), inviter, invite_code, invited_at)
    return Activation(invited_at=invited_at, inviter=inviter)


def owner_of_code(invite_code: str) -> tuple[int, str] | None:
    """The id and phone of whoever has ``invite_code`` (case-sensitive), if anyone."""
    row = db.session.execute(select(User.id, User.phone).where(User.invite_code == invite_code)).first()
    return (row[0], row[1]) if row is not None else None


def inviter_phone(user_id: int) -> str | None:
    """The phone of whoever invited ``user_id``."""
    inviter = aliased(User)
    return db.session.scalar(
        select(inviter.phone).join(User, User.invited_by_id == inviter.id).where(User.id == user_id)
    )


def is_in_referral_tree(user_id: int, root_id: int) -> bool:
    """Whether ``root_id`` is ``user_id`` or one of its inviters, however far up: one recursive query."""
    chain = _inviters_up(user_id)
    return db.session.scalar(select(chain.c.id).where(chain.c.id == root_id).limit(1)) is not None


def inviter_chain(user: User) -> list[str]:
    """Phones of ``user``'s inviter, their inviter, and so on up to the root: one recursive query."""
    chain = _inviters_up(user.id)
    return list(db.session.scalars(select(chain.c.phone).where(chain.c.depth > 0).order_by(chain.c.depth)))


def _inviters_up(user_id: int) -> CTE:
    """``user_id`` and every inviter above it, each with its distance from ``user_id``."""
    start = select(User.id, User.invited_by_id, User.phone, literal(0).label("depth")).where(User.id == user_id)
    chain = start.cte("chain", recursive=True)
    up = select(User.id, User.invited_by_id, User.phone, chain.c.depth + 1).join(
        chain, User.id == chain.c.invited_by_id
    )
    return chain.union_all(up)

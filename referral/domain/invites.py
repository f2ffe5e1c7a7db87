"""Invite codes and the activation rules, used by the profile and by sign-in: once per user, never your own
code, never a code that closes a loop in the referral tree."""

from __future__ import annotations

import hashlib
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


def generate_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


@dataclass(frozen=True)
class Activation:
    invited_at: datetime
    inviter: dict[str, Any]  # as events name a user


def activate_invite(user_id: int, phone: str, invite_code: str, already_invited: bool = False) -> Activation:
    """Make the owner of ``invite_code`` the inviter of ``user_id`` (whose phone is ``phone``), inside the
    caller's transaction, with its ``referral.activated`` event.

    Exactly one activation per user wins: the write is ``UPDATE ... WHERE invited_by_id IS NULL``. A loop could
    still close if two activations each passed the check before the other wrote, so activations lock the trees
    they join (``lock_trees``): only those that could close a loop together wait for each other.
    """
    if already_invited:
        raise InviteAlreadyActivated
    owner = owner_of_code(invite_code)
    if owner is None:
        raise InviteCodeNotFound
    inviter_id, inviter_phone = owner
    if inviter_id == user_id:
        raise InviteCodeOwn
    if user_id in lock_trees(user_id, inviter_id):
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


def lock_trees(user_id: int, inviter_id: int) -> list[int]:
    """Lock, until the transaction ends, the tree of ``user_id`` (exclusively) and the tree ``inviter_id`` is
    in (shared), each named by its root; the inviter's chain up to its root, read once the locks are held.

    Why this is enough: ``user_id`` has no inviter, so it is the root of its own tree, and a loop closes only
    if ``user_id`` is in the inviter's chain. That chain changes only at its top, when its root is activated,
    which takes the root's lock exclusively: holding it shared freezes the chain, and activations into the same
    tree (which all hold it shared) do not wait for each other. Two activations that could close a loop
    together each activate the root of the other's target tree, so each holds exclusively what the other
    wants shared: the second waits, then reads the chain the first one wrote. Locks are taken in ascending
    order, so no two activations wait for each other both ways; in the rare case that the root changed
    between the two reads, the new root is locked too and the chain read again (out of order: should that ever
    deadlock, PostgreSQL ends one of the two and the request is a 503).
    """
    locked: set[int] = set()
    chain = inviter_chain_ids(inviter_id)
    while True:
        wanted = {user_id, chain[-1]} - locked
        for tree in sorted(wanted, key=_tree_lock_key):
            lock_for_transaction(_tree_lock_key(tree), shared=tree != user_id)
        locked |= wanted
        chain = inviter_chain_ids(inviter_id)
        if chain[-1] in locked:
            return chain


def _tree_lock_key(root_id: int) -> int:
    digest = hashlib.sha256(f"referral-tree:{root_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def inviter_chain_ids(user_id: int) -> list[int]:
    """``user_id``, its inviter, theirs, ... up to the root of its tree: one recursive query."""
    chain = _inviters_up(user_id)
    return list(db.session.scalars(select(chain.c.id).order_by(chain.c.depth)))


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

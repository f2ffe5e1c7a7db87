"""Invite codes and the activation rules, used by the profile and by sign-in: once per user, never your own
code, never a code that closes a loop in the referral tree."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from referral import clock
from referral.domain import events
from referral.domain.errors import (
    InviteAlreadyActivated,
    InviteCodeNotFound,
    InviteCodeOwn,
    InviteCycle,
    TokenRevoked,
)
from referral.extensions import db
from referral.infra import reads
from referral.infra.database import dialect_name, lock_for_transaction
from referral.infra.models import INVITE_ALPHABET, INVITE_CODE_LENGTH, REFERRAL_COUNT_SLOTS, User, UTCDateTime

# The user that {first} picks and every inviter above, nearest first (id, phone): one recursive query.
_CHAIN_CTE = (
    "WITH RECURSIVE chain (id, invited_by_id, phone, depth) AS ("
    "SELECT id, invited_by_id, phone, 0 FROM users WHERE {first} "
    "UNION ALL SELECT u.id, u.invited_by_id, u.phone, chain.depth + 1 FROM users AS u "
    "JOIN chain ON u.id = chain.invited_by_id)"
)
_CHAIN = _CHAIN_CTE + " SELECT id, phone FROM chain ORDER BY depth"
CHAIN_OF_CODE = reads.Read(_CHAIN.format(first="invite_code = :invite_code"))
CHAIN_OF_USER = reads.Read(_CHAIN.format(first="id = :user_id"))
# ``_tree_lock_key`` in SQL: the first 8 bytes of the SHA-256 of "referral-tree:<root>", as a signed bigint.
_TREE_KEY = (
    "('x' || encode(substr(sha256(convert_to('referral-tree:' || tree, 'UTF8')), 1, 8), 'hex'))::bit(64)::bigint"
)
# CHAIN_OF_CODE, and in the same statement the locks ``join_tree`` takes (PostgreSQL): :user_id's tree
# exclusively and the chain's root shared, in ascending order of their keys (PostgreSQL calls volatile functions
# after the sort). The chain is read when the statement begins, before any wait, as it was by CHAIN_OF_CODE a
# round trip earlier: the activation reads it again under the locks either way.
CHAIN_OF_CODE_LOCKING = reads.Read(
    _CHAIN_CTE.format(first="invite_code = :invite_code")
    + ", trees (tree, shared) AS (SELECT CAST(:user_id AS BIGINT), false "
    "UNION ALL SELECT id, true FROM chain WHERE invited_by_id IS NULL AND id <> :user_id), "
    "locks AS MATERIALIZED (SELECT CASE WHEN shared THEN pg_advisory_xact_lock_shared(key) "
    f"ELSE pg_advisory_xact_lock(key) END FROM (SELECT shared, {_TREE_KEY} AS key FROM trees) AS keyed ORDER BY key) "
    "SELECT id, phone FROM chain WHERE (SELECT count(*) FROM locks) > 0 ORDER BY depth"
)
# The activation, under the tree locks: only if the user has no inviter yet, and the inviter's chain (read by
# this statement, so after the locks) does not hold the user and still ends at :root. No row otherwise.
ACTIVATE = reads.Read(
    "WITH RECURSIVE chain (id, invited_by_id) AS ("
    "SELECT id, invited_by_id FROM users WHERE id = :inviter_id "
    "UNION ALL SELECT u.id, u.invited_by_id FROM users AS u JOIN chain ON u.id = chain.invited_by_id) "
    "UPDATE users SET invited_by_id = :inviter_id, invited_at = :now "
    "WHERE users.id = :user_id AND users.invited_by_id IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM chain WHERE chain.id = :user_id) "
    "AND EXISTS (SELECT 1 FROM chain WHERE chain.id = :root AND chain.invited_by_id IS NULL) "
    "RETURNING id",
    {"now": UTCDateTime()},
)
# One more (or, with :change -1, one fewer) referral on one of the inviter's count rows; their phone.
COUNT_REFERRAL = reads.Read(
    "INSERT INTO referral_counts (user_id, slot, referrals) VALUES (:inviter_id, :slot, :change) "
    "ON CONFLICT (user_id, slot) DO UPDATE SET referrals = referral_counts.referrals + excluded.referrals "
    "RETURNING (SELECT phone FROM users WHERE users.id = referral_counts.user_id)"
)


# How often an activation follows its inviter's tree root moving under it before it gives up.
ROOT_MOVES = 10


# What an invite code can look like (the codes issued are shorter): anything else is nobody's code, and is
# never sent to the database (a NUL from a form or a link would be refused there).
INVITE_CODE_SHAPE = re.compile(r"[A-Za-z0-9]{1,32}")


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
    they join (``join_tree``): only those that could close a loop together wait for each other.

    Three round trips on PostgreSQL: the inviter with their chain and the tree locks (one statement), the
    activation with the chain checked again under them (one statement), the inviter's count.
    """
    if already_invited:
        raise InviteAlreadyActivated
    chain = chain_of_code(invite_code, locking_for=user_id)
    if not chain:
        raise InviteCodeNotFound
    inviter_id, inviter_phone = chain[0]
    if inviter_id == user_id:
        raise InviteCodeOwn
    if any(member == user_id for member, _ in chain):
        raise InviteCycle
    invited_at = clock.utcnow()
    root = chain[-1][0]
    join_tree(user_id, inviter_id, root, invited_at, locked={user_id, root})
    count_referral(inviter_id)
    inviter = events.person(inviter_id, inviter_phone, invite_code)
    events.referral_activated(events.person(user_id, phone), inviter, invite_code, invited_at)
    return Activation(invited_at=invited_at, inviter=inviter)


def count_referral(inviter_id: int, change: int = 1) -> str:
    """One more referral for ``inviter_id`` (``change`` -1: one fewer); their phone (for the events).

    The count is split over ``REFERRAL_COUNT_SLOTS`` rows and this changes one drawn at random, so activations
    into the same inviter seldom wait for each other: the row stays locked until the transaction ends. Last
    before the commit, where it can be, for the same reason.
    """
    params = {"inviter_id": inviter_id, "slot": secrets.randbelow(REFERRAL_COUNT_SLOTS), "change": change}
    phone: str = reads.in_session(COUNT_REFERRAL, params)[0][0]
    return phone


def join_tree(user_id: int, inviter_id: int, root: int, at: datetime, locked: Collection[int] = ()) -> None:
    """Make ``inviter_id`` (whose tree's root was ``root`` when last read) the inviter of ``user_id``, holding
    until the transaction ends the lock of ``user_id``'s tree exclusively and the lock of the inviter's tree
    shared, each named by its root (those of ``locked``, the trees whose locks the caller took that way
    already, are not taken again).

    Why this is enough: ``user_id`` has no inviter, so it is the root of its own tree, and a loop closes only
    if ``user_id`` is in the inviter's chain. That chain changes only at its top, when its root is activated,
    which takes the root's lock exclusively: holding it shared freezes the chain, and activations into the same
    tree (which all hold it shared) do not wait for each other. Two activations that could close a loop
    together each activate the root of the other's target tree, so each holds exclusively what the other
    wants shared: the second waits, then reads the chain the first one wrote. The activation itself reads the
    chain again (its statement begins once the locks are held) and writes only if the chain still ends at the
    locked root without passing through ``user_id``. Locks are taken in ascending order, so no two activations
    wait for each other both ways; in the rare case that the root changed between the reads (a deletion cut
    the chain, or the root was activated before the lock was granted), the new root is locked too and the
    activation tried again (out of order: should that ever deadlock, PostgreSQL ends one of the two and the
    request is a 503).
    """
    held = set(locked)
    for _ in range(ROOT_MOVES):
        wanted = {user_id, root} - held
        if wanted:
            keys = {tree: _tree_lock_key(tree) for tree in wanted}
            lock_for_transaction(*sorted(keys.values()), shared={keys[tree] for tree in wanted if tree != user_id})
        held |= wanted
        params = {"user_id": user_id, "inviter_id": inviter_id, "root": root, "now": at}
        try:
            if reads.in_session(ACTIVATE, params):
                return
        except IntegrityError:  # only the foreign key can fail: the inviter was deleted before its check
            raise InviteCodeNotFound from None
        # Nothing written: why?
        user = db.session.execute(select(User.invited_by_id).where(User.id == user_id)).first()
        if user is None:
            raise TokenRevoked  # deleted since the session was checked
        if user.invited_by_id is not None:
            raise InviteAlreadyActivated
        chain = inviter_chain_ids(inviter_id)
        if not chain:
            raise InviteCodeNotFound  # the inviter was deleted a moment ago
        if user_id in chain:
            raise InviteCycle
        root = chain[-1]  # the root moved
    raise InviteAlreadyActivated  # the inviter's tree kept changing under every try; refused rather than guessed


def _tree_lock_key(root_id: int) -> int:
    """The advisory lock key of the tree rooted at ``root_id`` (``_TREE_KEY`` computes the same in SQL)."""
    digest = hashlib.sha256(f"referral-tree:{root_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def inviter_chain_ids(user_id: int) -> list[int]:
    """``user_id``, its inviter, theirs, ... up to the root of its tree: one recursive query."""
    return [member for member, _ in reads.in_session(CHAIN_OF_USER, {"user_id": user_id})]


def chain_of_code(invite_code: str, locking_for: int | None = None) -> list[tuple[int, str]]:
    """The owner of ``invite_code`` (case-sensitive), their inviter, theirs, ... up to the root, as ids and
    phones; empty if nobody has the code. One recursive query, which with ``locking_for`` also takes the locks
    ``join_tree`` takes for that user and this chain's root (none on SQLite, as ``lock_for_transaction``)."""
    if not INVITE_CODE_SHAPE.fullmatch(invite_code):
        return []
    if locking_for is None or dialect_name() != "postgresql":
        rows = reads.in_session(CHAIN_OF_CODE, {"invite_code": invite_code})
    else:
        rows = reads.in_session(CHAIN_OF_CODE_LOCKING, {"invite_code": invite_code, "user_id": locking_for})
    return [(member, phone) for member, phone in rows]


def owner_of_code(invite_code: str) -> tuple[int, str] | None:
    """The id and phone of whoever has ``invite_code`` (case-sensitive), if anyone."""
    if not INVITE_CODE_SHAPE.fullmatch(invite_code):
        return None
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
    return [phone for _, phone in reads.in_session(CHAIN_OF_USER, {"user_id": user.id})[1:]]

"""Invite codes and the activation rules, used by the profile and by sign-in: once per user, never your own
code, never a code that closes a loop in the referral tree.

Why activations cannot close a loop under concurrency, and why the counts are split over rows:
``docs/design.md``, "Activations and the tree locks" and "The referral counts".
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from referral import clock
from referral.domain import events, fraud, qualification
from referral.domain.errors import (
    InviteAlreadyActivated,
    InviteCodeNotFound,
    InviteCodeOwn,
    InviteCycle,
    TokenRevoked,
)
from referral.infra import referral_tree
from referral.infra.models import INVITE_ALPHABET, INVITE_CODE_LENGTH, REFERRAL_COUNT_SLOTS

# What an invite code can look like (the codes issued are shorter): anything else is nobody's code, and is
# never sent to the database (a NUL from a form or a link would be refused there).
INVITE_CODE_SHAPE = re.compile(r"[A-Za-z0-9]{1,32}")
# How often an activation follows its inviter's tree root moving under it before it gives up.
ROOT_MOVES = 10


def generate_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


@dataclass(frozen=True)
class Activation:
    invited_at: datetime
    invite_code: str  # the inviter's, as it was issued (whatever case it was typed in)
    inviter: dict[str, Any]  # as events name a user


def activate_invite(
    user_id: int,
    phone: str,
    invite_code: str,
    already_invited: bool = False,
    channel: str = "code_later",
    signals: fraud.Signals = fraud.NO_SIGNALS,
) -> Activation:
    """Make the owner of ``invite_code`` the inviter of ``user_id`` (whose phone is ``phone``), entered through
    ``channel`` by a request that left ``signals``, inside the caller's transaction, with its
    ``referral.activated`` event; the referral held, qualified or pending as ``qualification.first_state``
    says. Exactly one activation per user wins."""
    if already_invited:
        raise InviteAlreadyActivated
    if not INVITE_CODE_SHAPE.fullmatch(invite_code):
        raise InviteCodeNotFound
    invited_at = clock.utcnow()
    # The chain with the tree locks the activation needs, and what the fraud rules read about its first member.
    chain, found = referral_tree.chain_to_join(invite_code, user_id, fraud.ask_of(signals, invited_at))
    if not chain:
        raise InviteCodeNotFound
    inviter = chain[0]
    if inviter.id == user_id:
        raise InviteCodeOwn
    if any(member.id == user_id for member in chain):
        raise InviteCycle
    verdict = fraud.judge(found, user_id, phone, signals)  # kept in a hold's evidence
    state = qualification.first_state(verdict)
    root = chain[-1].id
    hold = qualification.hold_for(user_id, state, verdict, invited_at)
    join_tree(user_id, inviter.id, root, invited_at, locked={user_id, root}, channel=channel, state=state, hold=hold)
    named, invitee = events.person(inviter.id, inviter.phone, inviter.invite_code), events.person(user_id, phone)
    events.referral_activated(invitee, named, inviter.invite_code, invited_at, channel)
    qualification.announce_new(invitee, named, state, verdict, invited_at)
    return Activation(invited_at=invited_at, invite_code=inviter.invite_code, inviter=named)


def drawn_count(qualified: int, hold: referral_tree.Hold | None = None) -> referral_tree.Count:
    """How a new referral is counted: on one of its inviter's count rows drawn at random (no row is a campaign's
    one hot row), ``qualified`` (1) or not, with its ``hold`` for review if it is held."""
    return referral_tree.Count(secrets.randbelow(REFERRAL_COUNT_SLOTS), qualified, hold)


def count_referral(inviter_id: int, change: int = 1, qualified: int = 0, hold: referral_tree.Hold | None = None) -> str:
    """One more referral for ``inviter_id`` (``change`` -1: one fewer; ``qualified`` of them qualified), on one
    of their count rows drawn at random, with its ``hold`` for review if it is held; their phone. Last before the
    commit where it can be: the row stays locked until then."""
    slot = secrets.randbelow(REFERRAL_COUNT_SLOTS)
    return referral_tree.count_referral(inviter_id, slot, change, qualified, hold)


def join_tree(
    user_id: int,
    inviter_id: int,
    root: int,
    at: datetime,
    locked: Collection[int] = (),
    channel: str = "code_later",
    state: str = "qualified",
    hold: referral_tree.Hold | None = None,
) -> None:
    """Make ``inviter_id`` (whose tree's root was ``root`` when last read) the inviter of ``user_id``, holding
    the lock of ``user_id``'s tree exclusively and of the inviter's tree shared (those in ``locked`` are held
    already), and count the new referral in ``state`` on the inviter's count (with its ``hold`` for review if
    it is held), in the activation's own statement. If the root moved meanwhile, the new root is locked too and
    the activation tried again."""
    count = drawn_count(1 if state == qualification.QUALIFIED else 0, hold)
    held = set(locked)
    for _ in range(ROOT_MOVES):
        if wanted := {user_id, root} - held:
            referral_tree.lock_trees(exclusive=wanted & {user_id}, shared=wanted - {user_id})
            held |= wanted
        try:
            if referral_tree.activate(user_id, inviter_id, root, at, channel, state, count):
                return
        except referral_tree.InviterGone:
            raise InviteCodeNotFound from None
        # Nothing written: why?
        invitation = referral_tree.invitation_of(user_id)
        if invitation is None:
            raise TokenRevoked  # deleted since the session was checked
        if invitation.invited_by_id is not None:
            raise InviteAlreadyActivated
        chain = referral_tree.chain_of_user(inviter_id)
        if not chain:
            raise InviteCodeNotFound  # the inviter was deleted a moment ago
        if any(member.id == user_id for member in chain):
            raise InviteCycle
        root = chain[-1].id  # the root moved
    raise InviteAlreadyActivated  # the inviter's tree kept changing under every try; refused rather than guessed


def chain_of_code(invite_code: str) -> list[referral_tree.Member]:
    """The owner of ``invite_code`` (typed in any case: the exact spelling wins, else the one code that fits)
    and every inviter above them, nearest first; empty if nobody has the code."""
    if not INVITE_CODE_SHAPE.fullmatch(invite_code):
        return []
    return referral_tree.chain_of_invite_code(invite_code)


def owner_of_code(invite_code: str) -> referral_tree.CodeOwner | None:
    """Whoever has ``invite_code`` (typed in any case, as for ``chain_of_code``), if anyone."""
    if not INVITE_CODE_SHAPE.fullmatch(invite_code):
        return None
    return referral_tree.owner_of_invite_code(invite_code)


def inviter_phone(user_id: int) -> str | None:
    """The phone of whoever invited ``user_id``."""
    inviter = referral_tree.inviter_of(user_id)
    return inviter.phone if inviter is not None else None


def greeting_name(first_name: str, last_name: str, masked_phone: str) -> str:
    """How the pages name an inviter to the people they invite: first name and last initial when they set a
    name ("Anna P."), their masked phone otherwise."""
    if not first_name:
        return masked_phone
    return f"{first_name} {last_name[:1]}." if last_name else first_name


def inviter_chain(user_id: int) -> list[str]:
    """Phones of ``user_id``'s inviter, their inviter, and so on up to the root."""
    return [member.phone for member in referral_tree.chain_of_user(user_id)[1:]]

"""Invite codes and the activation rules (used by the profile and by sign-in), and the referral lists."""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CTE, Select, bindparam, literal, select, tuple_, update

from referral import clock
from referral.database import lock_for_transaction, read_rows
from referral.exceptions import InviteAlreadyActivated, InviteCodeNotFound, InviteCodeOwn, InviteCycle
from referral.extensions import db
from referral.models import INVITE_CODE_LENGTH, BigId, User, UTCDateTime

if TYPE_CHECKING:
    from referral.accounts import Account

# Phones of the newest referrals a profile shows.
PROFILE_REFERRALS = 100

# Letters and digits without the look-alikes 0 O o 1 l I: 56 symbols, 56**6 ≈ 3.1e10 codes.
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
# Any constant shared by every process; it names the lock that serialises activations (see activate_invite).
ACTIVATION_LOCK_KEY = 0x5EF_E22A1


class InvalidCursor(ValueError):
    """The cursor was not made by this service."""


@dataclass(frozen=True)
class Referral:
    phone: str
    first_name: str
    last_name: str
    joined_at: datetime


@dataclass(frozen=True)
class ReferralPage:
    items: list[Referral]
    next_cursor: str | None
    count: int


def generate_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


def activate_invite(user_id: int, invite_code: str, already_invited: bool = False) -> datetime:
    """Make the owner of ``invite_code`` the inviter of ``user_id``, inside the caller's transaction; when.

    Exactly one activation per user wins: the write is ``UPDATE ... WHERE invited_by_id IS NULL``. A cycle check
    followed by a write could still close a loop if two users entered each other's codes at the same moment, so
    activations take one transaction-level lock first: they are short and happen once per user, and the lock
    costs less than any cleverer scheme would cost to get right.
    """
    if already_invited:
        raise InviteAlreadyActivated
    lock_for_transaction(ACTIVATION_LOCK_KEY)
    inviter_id = db.session.scalar(select(User.id).where(User.invite_code == invite_code))
    if inviter_id is None:
        raise InviteCodeNotFound
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
    return invited_at


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


def recent_referral_phones(user_id: int, limit: int = PROFILE_REFERRALS) -> list[str]:
    """Phones of the newest ``limit`` referrals, newest first (Core: no ORM objects are made for a list)."""
    return [phone for (phone,) in read_rows(_NEWEST_REFERRAL_PHONES, {"user_id": user_id, "limit": limit})]


def referral_page(user: Account, limit: int, after: tuple[datetime, int] | None = None) -> ReferralPage:
    """One page of ``user``'s referrals, newest first, by keyset on (invited_at, id): as cheap deep as on top.

    ``after`` is a decoded cursor: the (invited_at, id) of the last row of the page before.
    """
    params: dict[str, Any] = {"owner_id": user.id, "limit": limit + 1}
    if after is not None:
        params["after_at"], params["after_id"] = after
    rows = read_rows(_NEXT_PAGE if after is not None else _FIRST_PAGE, params)  # (id, *Referral's fields)
    items = [Referral(*row[1:]) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1].joined_at, rows[limit - 1][0]) if len(rows) > limit else None
    return ReferralPage(items=items, next_cursor=next_cursor, count=user.referrals_count)


def newest_referrals(users: type[User], owner_id: Any, *columns: Any) -> Select:  # type: ignore[type-arg]
    """``columns`` of the referrals of ``owner_id``, newest first: the ix_users_referrals index read backwards.

    ``users`` is ``User`` or an alias of it (for a subquery correlated to an outer ``User``).
    """
    return select(*columns).where(users.invited_by_id == owner_id).order_by(users.invited_at.desc(), users.id.desc())


# Built once, for the profile's list when it is not read with the account (SQLite, or after a write).
_NEWEST_REFERRAL_PHONES = newest_referrals(User, bindparam("user_id"), User.phone).limit(bindparam("limit"))

# Built once: a page of referrals, and the page after the (invited_at, id) of the last row of the one before.
_PAGE_COLUMNS = (User.id, User.phone, User.first_name, User.last_name, User.invited_at)
_FIRST_PAGE = newest_referrals(User, bindparam("owner_id"), *_PAGE_COLUMNS).limit(bindparam("limit"))
_NEXT_PAGE = (
    newest_referrals(User, bindparam("owner_id"), *_PAGE_COLUMNS)
    .where(
        tuple_(User.invited_at, User.id)
        < tuple_(bindparam("after_at", type_=UTCDateTime()), bindparam("after_id", type_=BigId))
    )
    .limit(bindparam("limit"))
)


def encode_cursor(invited_at: datetime, user_id: int) -> str:
    raw = f"{invited_at.isoformat()}|{user_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, user_id = raw.partition("|")
        invited_at = datetime.fromisoformat(stamp)
        if invited_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return invited_at, int(user_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("The cursor is not valid; start again without it.") from None

"""Referral lists: the phones a profile shows, and everyone who entered a code, a page at a time.

Both read the ``ix_users_referrals`` index backwards (newest first) and run on the hot read path
(``infra/reads.py``); pages are keyset-paginated on (invited_at, id), so page 2,000 costs what page 1 does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from referral.infra import reads
from referral.infra.models import UTCDateTime

# Phones of the newest referrals a profile shows.
PROFILE_REFERRALS = 100


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


NEWEST_REFERRAL_PHONES = reads.Read(
    "SELECT phone FROM users WHERE invited_by_id = :user_id ORDER BY invited_at DESC, id DESC LIMIT :limit"
)
_PAGE = (
    "SELECT id, phone, first_name, last_name, invited_at FROM users WHERE invited_by_id = :owner_id{after} "
    "ORDER BY invited_at DESC, id DESC LIMIT :limit"
)
FIRST_PAGE = reads.Read(_PAGE.format(after=""), column_types={"invited_at": UTCDateTime()})
NEXT_PAGE = reads.Read(
    _PAGE.format(after=" AND (invited_at, id) < (:after_at, :after_id)"),
    parameter_types={"after_at": UTCDateTime()},
    column_types={"invited_at": UTCDateTime()},
)


def recent_referral_phones(user_id: int, limit: int = PROFILE_REFERRALS) -> list[str]:
    """Phones of the newest ``limit`` referrals of ``user_id``, newest first."""
    return [phone for (phone,) in reads.rows(NEWEST_REFERRAL_PHONES, {"user_id": user_id, "limit": limit})]


def referral_page(owner_id: int, count: int, limit: int, after: tuple[datetime, int] | None = None) -> ReferralPage:
    """One page of the referrals of ``owner_id`` (who has ``count`` in all), newest first.

    ``after`` is a decoded cursor: the (invited_at, id) of the last row of the page before.
    """
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit + 1}
    if after is not None:
        params["after_at"], params["after_id"] = after
    rows = reads.rows(NEXT_PAGE if after is not None else FIRST_PAGE, params)  # (id, *Referral's fields)
    items = [Referral(*row[1:]) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1].joined_at, rows[limit - 1][0]) if len(rows) > limit else None
    return ReferralPage(items=items, next_cursor=next_cursor, count=count)


# The ids a cursor can carry: users.id is a BIGINT.
LARGEST_ID = 2**63 - 1


def encode_cursor(invited_at: datetime, user_id: int) -> str:
    raw = f"{invited_at.isoformat()}|{user_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (invited_at, id) of ``cursor``, if ``encode_cursor`` could have made it: its exact spelling, a UTC
    time (as the database gives them) and an id a row can have. Anything else is ``InvalidCursor``.

    Cursors are checked rather than signed: one carries nothing secret and positions only within its
    reader's own list, and the cursors issued before this check keep working.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, digits = raw.partition("|")
        invited_at, user_id = datetime.fromisoformat(stamp), int(digits)
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidCursor(INVALID_CURSOR) from None
    if invited_at.utcoffset() != timedelta(0) or not 0 < user_id <= LARGEST_ID:
        raise InvalidCursor(INVALID_CURSOR)
    if encode_cursor(invited_at, user_id) != cursor:
        raise InvalidCursor(INVALID_CURSOR)
    return invited_at, user_id


INVALID_CURSOR = "The cursor is not valid; start again without it."

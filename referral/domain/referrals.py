"""Referral lists: the phones a profile shows, and everyone who entered a code, a page at a time, keyset-
paginated on (invited_at, id) by an opaque cursor (``infra/referral_lists.py`` reads them)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from referral import clock
from referral.infra import referral_lists

# Phones of the newest referrals a profile shows.
PROFILE_REFERRALS = 100


class InvalidCursor(ValueError):
    """The cursor was not made by this service."""


class Referral(NamedTuple):
    """One referral as its inviter sees it. A named tuple rather than a frozen dataclass: a page makes 50 of
    them a request, and a frozen dataclass sets each field through ``object.__setattr__``."""

    phone: str
    first_name: str
    last_name: str
    joined_at: datetime
    channel: str | None = None  # link, code_at_signup or code_later; None for referrals made before it was kept
    state: str = "qualified"  # as the inviter sees it: pending, qualified or voided (a held one is pending)


@dataclass(frozen=True)
class ReferralPage:
    items: list[Referral]
    next_cursor: str | None
    count: int
    first_position: tuple[datetime, int] | None = None  # (invited_at, id) of its first item, for the page before


def recent_referral_phones(user_id: int, limit: int = PROFILE_REFERRALS) -> list[str]:
    """Phones of the newest ``limit`` referrals of ``user_id``, newest first."""
    return referral_lists.newest_referral_phones(user_id, limit)


def referral_page(owner_id: int, count: int, limit: int, after: tuple[datetime, int] | None = None) -> ReferralPage:
    """One page of the referrals of ``owner_id`` (who has ``count`` in all), newest first; ``after`` is a
    decoded cursor, the (invited_at, id) of the last row of the page before."""
    return page_of(referral_lists.referrals_after(owner_id, limit + 1, after), count, limit)


def signed_in_page(
    session_id: str, owner_id: int, limit: int, after: tuple[datetime, int] | None = None
) -> ReferralPage | None:
    """``referral_page`` for the API, read with the check that ``session_id`` is a live session of ``owner_id``
    (one statement: the page's only round trip); ``None`` when it is not."""
    found = referral_lists.signed_in_referrals_after(session_id, owner_id, clock.utcnow(), limit + 1, after)
    return page_of(found.rows, found.referrals_count, limit) if found is not None else None


def page_of(rows: list[referral_lists.ReferralRow], count: int, limit: int) -> ReferralPage:
    """The page of the first ``limit`` of ``rows`` (read ``limit + 1``: one more says there is a next page)."""
    items = [referral_of(row) for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].invited_at, rows[limit - 1].id) if len(rows) > limit else None
    first = (rows[0].invited_at, rows[0].id) if rows else None
    return ReferralPage(items=items, next_cursor=next_cursor, count=count, first_position=first)


def referral_of(row: referral_lists.ReferralRow) -> Referral:
    """A referral as its inviter sees it: a held one is pending to them (never "suspected")."""
    state = SHOWN_AS.get(row.referral_state or "qualified", "qualified")
    return Referral(row.phone, row.first_name, row.last_name, row.invited_at, row.invite_channel, state)


# How the people who invite see their referrals' states.
SHOWN_AS = {"pending": "pending", "qualified": "qualified", "held": "pending", "voided": "voided"}


def newer_page_start(owner_id: int, page: ReferralPage, limit: int) -> tuple[datetime, int] | None:
    """Where the page of the ``limit`` referrals just newer than ``page`` starts, as an ``after`` position;
    ``None`` when that page is the first one (keyset pages read backwards: one small query)."""
    if page.first_position is None:
        return None
    newer = referral_lists.referrals_newer_than(owner_id, limit + 1, page.first_position)
    return (newer[limit].invited_at, newer[limit].id) if len(newer) > limit else None


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

"""Who entered a user's code, newest first: the phones a profile shows, and the keyset pages of the full list.

Each reads the ``ix_users_referrals`` index (invited_by_id, invited_at, id) backwards, so page 2,000 costs what
page 1 does. The API's pages are read with the check of the session that asks for them, in the same statement.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
from referral.infra.models import UTCDateTime


class ReferralRow(NamedTuple):
    id: int
    phone: str
    first_name: str
    last_name: str
    invited_at: datetime
    invite_channel: str | None
    referral_state: str | None


NEWEST_REFERRAL_PHONES = sql.Statement(
    """
    SELECT phone FROM users WHERE invited_by_id = :user_id
    ORDER BY invited_at DESC, id DESC LIMIT :limit
    """
)

FIRST_PAGE = sql.Statement(
    """
    SELECT id, phone, first_name, last_name, invited_at, invite_channel, referral_state FROM users
    WHERE invited_by_id = :owner_id
    ORDER BY invited_at DESC, id DESC LIMIT :limit
    """,
    column_types={"invited_at": UTCDateTime()},
)

NEXT_PAGE = sql.Statement(
    """
    SELECT id, phone, first_name, last_name, invited_at, invite_channel, referral_state FROM users
    WHERE invited_by_id = :owner_id AND (invited_at, id) < (:after_at, :after_id)
    ORDER BY invited_at DESC, id DESC LIMIT :limit
    """,
    parameter_types={"after_at": UTCDateTime()},
    column_types={"invited_at": UTCDateTime()},
)


def _signed_in(page: sql.Statement) -> sql.Statement:
    """``page`` (FIRST_PAGE or NEXT_PAGE, of :owner_id's referrals) and the check of the session that asks for
    it, in one statement: a row per referral, each with the session's user and their referral count (the
    accounts view's); one row with no referral in it when the page is empty or the session is not :owner_id's;
    no row at all when :session_id is revoked or expired (as accounts.ACCOUNT_OF_SESSION checks it). The
    session is found by its key: the owner is matched in the page's join, not in the WHERE, where PostgreSQL
    might find the session among the user's by user_id. The page is joined whole, not per session row, so that
    SQLite runs the same statement."""
    return sql.Statement(
        f"""
        SELECT a.id, a.referrals_count, r.id, r.phone, r.first_name, r.last_name, r.invited_at, r.invite_channel,
               r.referral_state
        FROM sessions AS s JOIN accounts AS a ON a.id = s.user_id
        LEFT JOIN (
{textwrap.indent(page.sql, " " * 12)}
        ) AS r ON a.id = :owner_id
        WHERE s.id = :session_id AND s.revoked_at IS NULL AND s.expires_at > :now
        ORDER BY r.invited_at DESC, r.id DESC
        """,
        {"now": UTCDateTime(), **page.parameter_types},
        page.column_types,
    )


SIGNED_IN_FIRST_PAGE = _signed_in(FIRST_PAGE)
SIGNED_IN_NEXT_PAGE = _signed_in(NEXT_PAGE)


# The referrals just newer than (:before_at, :before_id), the nearest first (so: oldest first).
NEWER_THAN = sql.Statement(
    """
    SELECT id, phone, first_name, last_name, invited_at, invite_channel, referral_state FROM users
    WHERE invited_by_id = :owner_id AND (invited_at, id) > (:before_at, :before_id)
    ORDER BY invited_at ASC, id ASC LIMIT :limit
    """,
    parameter_types={"before_at": UTCDateTime()},
    column_types={"invited_at": UTCDateTime()},
)


class SignedInPage(NamedTuple):
    referrals_count: int  # the owner's, all of them
    rows: list[ReferralRow]


def signed_in_referrals_after(
    session_id: str, owner_id: int, now: datetime, limit: int, after: tuple[datetime, int] | None = None
) -> SignedInPage | None:
    """``referrals_after(owner_id, limit, after)`` with the owner's referral count, if ``session_id`` is a live
    session of ``owner_id`` at ``now``; ``None`` if it is not."""
    params: dict[str, object] = {"session_id": session_id, "owner_id": owner_id, "now": now, "limit": limit}
    if after is None:
        rows = sql.read(SIGNED_IN_FIRST_PAGE, params)
    else:
        rows = sql.read(SIGNED_IN_NEXT_PAGE, params | {"after_at": after[0], "after_id": after[1]})
    if not rows or rows[0][0] != owner_id:
        return None
    return SignedInPage(rows[0][1], [ReferralRow(*row[2:]) for row in rows if row[2] is not None])


def referrals_newer_than(owner_id: int, limit: int, before: tuple[datetime, int]) -> list[ReferralRow]:
    """Up to ``limit`` referrals of ``owner_id`` newer than ``before`` (invited_at, id), the nearest first."""
    params = {"owner_id": owner_id, "limit": limit, "before_at": before[0], "before_id": before[1]}
    return [ReferralRow(*row) for row in sql.read(NEWER_THAN, params)]


def newest_referral_phones(user_id: int, limit: int) -> list[str]:
    """Phones of the newest ``limit`` referrals of ``user_id``, newest first."""
    return [phone for (phone,) in sql.read(NEWEST_REFERRAL_PHONES, {"user_id": user_id, "limit": limit})]


def referrals_after(owner_id: int, limit: int, after: tuple[datetime, int] | None = None) -> list[ReferralRow]:
    """Up to ``limit`` referrals of ``owner_id``, newest first, older than ``after`` (invited_at, id) if given."""
    if after is None:
        rows = sql.read(FIRST_PAGE, {"owner_id": owner_id, "limit": limit})
    else:
        rows = sql.read(NEXT_PAGE, {"owner_id": owner_id, "limit": limit, "after_at": after[0], "after_id": after[1]})
    return [ReferralRow(*row) for row in rows]

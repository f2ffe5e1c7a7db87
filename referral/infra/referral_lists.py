"""Who entered a user's code, newest first: the phones a profile shows, and the keyset pages of the full list.

Each reads the ``ix_users_referrals`` index (invited_by_id, invited_at, id) backwards, so page 2,000 costs what
page 1 does.
"""

from __future__ import annotations

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

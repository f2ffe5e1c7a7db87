"""Users as staff find them: a search with filters, a page at a time, and one user whole."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
from referral.infra.models import UTCDateTime


class Listed(NamedTuple):
    id: int
    phone: str
    invite_code: str
    first_name: str
    last_name: str
    invited_by_id: int | None
    created_at: datetime
    blocked_at: datetime | None


LISTED_COLUMNS = {"created_at": UTCDateTime(), "blocked_at": UTCDateTime()}

# The filters every listing takes: :invited is 1 (invited), 0 (not) or -1 (either); a range of sign-up instants.
# Three statements, by what was asked, so that each is planned for its own index: the text (the trigram indexes
# on PostgreSQL, the folded invite code), an inviter's referrals (ix_users_referrals), or neither (the key).

# Users whose phone has :phone_like, whose invite code is :code in any case, or whose name has :name_like.
SEARCH_TEXT = sql.Statement(
    """
    SELECT id, phone, invite_code, first_name, last_name, invited_by_id, created_at, blocked_at FROM users
    WHERE (phone LIKE :phone_like ESCAPE '!' OR upper(invite_code) = :code
           OR lower(first_name || ' ' || last_name) LIKE :name_like ESCAPE '!')
      AND id < :before
      AND (:invited = -1 OR (:invited = 1) = (invited_by_id IS NOT NULL))
      AND (:invited_by = 0 OR invited_by_id = :invited_by)
      AND created_at >= :joined_from AND created_at < :joined_until
    ORDER BY id DESC
    LIMIT :limit
    """,
    {"joined_from": UTCDateTime(), "joined_until": UTCDateTime()},
    LISTED_COLUMNS,
)

REFERRALS_OF = sql.Statement(
    """
    SELECT id, phone, invite_code, first_name, last_name, invited_by_id, created_at, blocked_at FROM users
    WHERE invited_by_id = :invited_by AND id < :before
      AND created_at >= :joined_from AND created_at < :joined_until
    ORDER BY id DESC
    LIMIT :limit
    """,
    {"joined_from": UTCDateTime(), "joined_until": UTCDateTime()},
    LISTED_COLUMNS,
)

EVERYONE = sql.Statement(
    """
    SELECT id, phone, invite_code, first_name, last_name, invited_by_id, created_at, blocked_at FROM users
    WHERE id < :before
      AND (:invited = -1 OR (:invited = 1) = (invited_by_id IS NOT NULL))
      AND created_at >= :joined_from AND created_at < :joined_until
    ORDER BY id DESC
    LIMIT :limit
    """,
    {"joined_from": UTCDateTime(), "joined_until": UTCDateTime()},
    LISTED_COLUMNS,
)


class UserRecord(NamedTuple):
    id: int
    phone: str
    invite_code: str
    first_name: str
    last_name: str
    invited_by_id: int | None
    invited_at: datetime | None
    invite_channel: str | None
    created_at: datetime
    blocked_at: datetime | None
    referrals_count: int
    referral_state: str | None = None


USER = sql.Statement(
    """
    SELECT u.id, u.phone, u.invite_code, u.first_name, u.last_name, u.invited_by_id, u.invited_at,
           u.invite_channel, u.created_at, u.blocked_at,
           (SELECT COALESCE(SUM(c.referrals), 0) FROM referral_counts AS c WHERE c.user_id = u.id) AS referrals,
           u.referral_state
    FROM users AS u WHERE u.id = :user_id
    """,
    column_types={"invited_at": UTCDateTime(), "created_at": UTCDateTime(), "blocked_at": UTCDateTime()},
)


def search(
    text: str,
    invited: int,
    invited_by: int,
    joined_from: datetime,
    joined_until: datetime,
    limit: int,
    before: int = sql.NEWEST_ID,
) -> list[Listed]:
    """``text`` (at least three characters, or empty) matches any part of a phone's digits or a name, or an invite
    code; ``invited_by`` 0 is anyone's referrals (the text search and the unfiltered list also take ``invited``)."""
    params: dict[str, object] = {
        "before": before,
        "invited": invited,
        "invited_by": invited_by,
        "joined_from": joined_from,
        "joined_until": joined_until,
        "limit": limit,
    }
    if text:
        digits = "".join(ch for ch in text if ch.isdigit())
        like = "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        params |= {
            "phone_like": f"%{digits}%" if len(digits) >= 3 else like,
            "code": text.upper(),
            "name_like": like.lower(),
        }
        return [Listed(*row) for row in sql.run(SEARCH_TEXT, params)]
    if invited_by:
        return [Listed(*row) for row in sql.run(REFERRALS_OF, params)]
    return [Listed(*row) for row in sql.run(EVERYONE, params)]


def user(user_id: int) -> UserRecord | None:
    rows = sql.run(USER, {"user_id": user_id})
    return UserRecord(*rows[0]) if rows else None


# How many people are at each depth below :user_id, down to :depth, counting at most :cap of them (an
# influencer's tree is read no further than that: the console says "at least").
TREE_BELOW = sql.Statement(
    """
    WITH RECURSIVE tree (id, depth) AS (
        SELECT id, 1 FROM users WHERE invited_by_id = :user_id
        UNION ALL
        SELECT u.id, tree.depth + 1 FROM users AS u JOIN tree ON u.invited_by_id = tree.id
        WHERE tree.depth < :depth
    )
    SELECT depth, count(*) FROM (SELECT depth FROM tree LIMIT :cap) AS counted
    GROUP BY depth ORDER BY depth
    """
)

# The webhook events since :since that name the user (as a person, or by user_id), newest first.
EVENTS_ABOUT = sql.Statement(
    """
    SELECT id, type, created_at FROM webhook_events
    WHERE created_at >= :since AND (payload LIKE :as_person OR payload LIKE :as_id)
    ORDER BY created_at DESC LIMIT :limit
    """,
    {"since": UTCDateTime()},
    {"created_at": UTCDateTime()},
)


def tree_below(user_id: int, depth: int, cap: int) -> list[tuple[int, int]]:
    return [(level, count) for level, count in sql.run(TREE_BELOW, {"user_id": user_id, "depth": depth, "cap": cap})]


def events_about(user_id: int, since: datetime, limit: int) -> list[tuple[str, str, datetime]]:
    # Events write a person as {"id": 12, "phone": ...} and a phone change as {"user_id": 12, ...} (json.dumps).
    params = {"since": since, "as_person": f'%"id": {user_id},%', "as_id": f'%"user_id": {user_id},%', "limit": limit}
    return [(event_id, kind, at) for event_id, kind, at in sql.run(EVENTS_ABOUT, params)]

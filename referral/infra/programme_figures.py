"""The programme's numbers: invite-link visits (``invite_link_visits`` per link, ``invite_link_visit_days`` a
day's in 16 shares), the daily roll-ups the console's overview reads (``programme_days``, ``top_referrers``),
and the raw counts they are made from.

A day, or the part of one a count covers, is a half-open range of instants [:start, :end) in UTC, passed in, so
that every statement is the same SQL on PostgreSQL and SQLite; each count is one range read of an index (users by
created_at and by invited_at, sms_sends by sent_at), and a day's visits are its few shares.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Date
from sqlalchemy.types import TypeEngine

from referral.infra import sql
from referral.infra.models import LINK_VISIT_SLOTS, UTCDateTime

DAY: dict[str, TypeEngine[Any]] = {"day": Date(), "start": UTCDateTime(), "end": UTCDateTime()}

COUNT_LINK_VISIT = sql.Statement(
    """
    INSERT INTO invite_link_visits (day, user_id, visits) VALUES (:day, :user_id, 1)
    ON CONFLICT (day, user_id) DO UPDATE SET visits = invite_link_visits.visits + 1
    """,
    {"day": Date()},
)

# The day's share of the visit (models.InviteLinkVisitDay): what the overview sums.
COUNT_DAY_VISIT = sql.Statement(
    """
    INSERT INTO invite_link_visit_days (day, slot, visits) VALUES (:day, :slot, 1)
    ON CONFLICT (day, slot) DO UPDATE SET visits = invite_link_visit_days.visits + 1
    """,
    {"day": Date()},
)


class DayFigures(NamedTuple):
    signups_organic: int
    signups_referred: int
    activations_link: int
    activations_code_at_signup: int
    activations_code_later: int
    link_visits: int
    sms_sent: int
    sms_failed: int


# A day's figures from the raw rows stamped in [:start, :end), part of :day or all of it, one range read of each
# index (the filters split what each read finds); link visits are counted per day, so :day's whole count (its
# shares). An
# organic sign-up is one without an inviter at sign-up (a code entered later is still an organic sign-up, and an
# activation of that day); a referral whose inviter has left is detached (no channel), so it counts as organic too.
FIGURES_BETWEEN = sql.Statement(
    """
    SELECT joined.organic, joined.referred, invited.link, invited.code_at_signup, invited.code_later,
           visited.visits, sent.sent, sent.failed
    FROM (SELECT count(*) FILTER (WHERE invite_channel IS NULL OR invite_channel = 'code_later') AS organic,
                 count(*) FILTER (WHERE invite_channel IN ('link', 'code_at_signup')) AS referred
          FROM users WHERE created_at >= :start AND created_at < :end) AS joined,
         (SELECT count(*) FILTER (WHERE invite_channel = 'link') AS link,
                 count(*) FILTER (WHERE invite_channel = 'code_at_signup') AS code_at_signup,
                 count(*) FILTER (WHERE invite_channel = 'code_later') AS code_later
          FROM users WHERE invited_at >= :start AND invited_at < :end) AS invited,
         (SELECT COALESCE(sum(visits), 0) AS visits FROM invite_link_visit_days WHERE day = :day) AS visited,
         (SELECT count(*) AS sent, count(*) FILTER (WHERE status = 'failed') AS failed
          FROM sms_sends WHERE sent_at >= :start AND sent_at < :end) AS sent
    """,
    DAY,
)

SAVE_DAY = sql.Statement(
    """
    INSERT INTO programme_days (day, signups_organic, signups_referred, activations_link,
                                activations_code_at_signup, activations_code_later, link_visits, sms_sent,
                                sms_failed, counted_until, computed_at)
    VALUES (:day, :signups_organic, :signups_referred, :activations_link, :activations_code_at_signup,
            :activations_code_later, :link_visits, :sms_sent, :sms_failed, :until, :now)
    ON CONFLICT (day) DO UPDATE SET
        signups_organic = excluded.signups_organic, signups_referred = excluded.signups_referred,
        activations_link = excluded.activations_link,
        activations_code_at_signup = excluded.activations_code_at_signup,
        activations_code_later = excluded.activations_code_later, link_visits = excluded.link_visits,
        sms_sent = excluded.sms_sent, sms_failed = excluded.sms_failed, counted_until = excluded.counted_until,
        computed_at = excluded.computed_at
    """,
    {"day": Date(), "until": UTCDateTime(), "now": UTCDateTime()},
)

SAVED_DAYS = sql.Statement(
    """
    SELECT day, signups_organic, signups_referred, activations_link, activations_code_at_signup,
           activations_code_later, link_visits, sms_sent, sms_failed, counted_until, computed_at
    FROM programme_days WHERE day >= :first AND day <= :last
    ORDER BY day
    """,
    {"first": Date(), "last": Date()},
    {"day": Date(), "counted_until": UTCDateTime(), "computed_at": UTCDateTime()},
)

FORGET_TOP_REFERRERS = sql.Statement("DELETE FROM top_referrers WHERE range_days = :range_days")

# The ten users with the most activations since :since, ranked (ties by the older account).
SAVE_TOP_REFERRERS = sql.Statement(
    """
    INSERT INTO top_referrers (range_days, rank, user_id, referrals)
    SELECT :range_days, row_number() OVER (ORDER BY referrals DESC, invited_by_id), invited_by_id, referrals
    FROM (SELECT invited_by_id, count(*) AS referrals FROM users
          WHERE invited_at >= :since AND invited_by_id IS NOT NULL
          GROUP BY invited_by_id ORDER BY referrals DESC, invited_by_id LIMIT :top) AS ranked
    """,
    {"since": UTCDateTime()},
)


class TopReferrerRow(NamedTuple):
    rank: int
    user_id: int
    phone: str
    first_name: str
    last_name: str
    referrals: int


SAVED_TOP_REFERRERS = sql.Statement(
    """
    SELECT t.rank, t.user_id, u.phone, u.first_name, u.last_name, t.referrals
    FROM top_referrers AS t JOIN users AS u ON u.id = t.user_id
    WHERE t.range_days = :range_days
    ORDER BY t.rank
    """
)

WEBHOOK_BACKLOG = sql.Statement(
    """
    SELECT count(*) AS pending, min(created_at) AS oldest FROM webhook_deliveries WHERE status = 'pending'
    """,
    column_types={"oldest": UTCDateTime()},
)


def count_link_visit(day: date, user_id: int) -> None:
    """One more visit of ``user_id``'s link on ``day``: on its row, and on the day's share it falls in."""
    sql.run(COUNT_LINK_VISIT, {"day": day, "user_id": user_id})
    sql.run(COUNT_DAY_VISIT, {"day": day, "slot": user_id % LINK_VISIT_SLOTS})


class SavedDay(NamedTuple):
    day: date
    figures: DayFigures
    counted_until: datetime  # the rows stamped in [start of day, counted_until) are in the figures
    computed_at: datetime


def figures_between(day: date, start: datetime, end: datetime) -> DayFigures:
    return DayFigures(*sql.run(FIGURES_BETWEEN, {"day": day, "start": start, "end": end})[0])


def save_day(day: date, figures: DayFigures, until: datetime, now: datetime) -> None:
    sql.run(SAVE_DAY, {"day": day, "until": until, "now": now, **figures._asdict()})


def saved_days(first: date, last: date) -> list[SavedDay]:
    rows = sql.run(SAVED_DAYS, {"first": first, "last": last})
    return [SavedDay(row[0], DayFigures(*row[1:9]), row[9], row[10]) for row in rows]


def save_top_referrers(range_days: int, since: datetime, top: int) -> None:
    sql.run(FORGET_TOP_REFERRERS, {"range_days": range_days})
    sql.run(SAVE_TOP_REFERRERS, {"range_days": range_days, "since": since, "top": top})


def top_referrers(range_days: int) -> list[TopReferrerRow]:
    return [TopReferrerRow(*row) for row in sql.run(SAVED_TOP_REFERRERS, {"range_days": range_days})]


def webhook_backlog() -> tuple[int, datetime | None]:
    pending, oldest = sql.run(WEBHOOK_BACKLOG, {})[0]
    return int(pending), oldest

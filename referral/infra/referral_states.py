"""Where each referral stands (``users.referral_state``): the transitions, each a conditional statement that
only one caller can win, the qualified counts, and the referrals due to qualify."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
from referral.infra.models import UTCDateTime

# Move the referral of :invitee_id from :was to :to; no row if it stood elsewhere (someone else moved it first).
MOVE = sql.Statement(
    """
    UPDATE users SET referral_state = :to, referral_state_at = :now
    WHERE id = :invitee_id AND referral_state = :was AND invited_by_id IS NOT NULL
    RETURNING invited_by_id
    """,
    {"now": UTCDateTime()},
)


class Standing(NamedTuple):
    """A referral as its transitions need it: the invitee, their inviter, the state and since when."""

    invitee_id: int
    invitee_phone: str
    inviter_id: int
    inviter_phone: str
    inviter_code: str
    state: str
    invited_at: datetime
    blocked: bool


STANDING = sql.Statement(
    """
    SELECT invitee.id, invitee.phone, inviter.id, inviter.phone, inviter.invite_code, invitee.referral_state,
           invitee.invited_at, invitee.blocked_at IS NOT NULL
    FROM users AS invitee JOIN users AS inviter ON inviter.id = invitee.invited_by_id
    WHERE invitee.id = :invitee_id
    """,
    column_types={"invited_at": UTCDateTime()},
)

# Pending referrals whose invitee joined their inviter before :due and is still there (not blocked), oldest
# first, from the partial index of unqualified referrals.
DUE = sql.Statement(
    """
    SELECT id FROM users
    WHERE referral_state = 'pending' AND invited_at <= :due AND blocked_at IS NULL
    ORDER BY invited_at, id
    LIMIT :batch
    """,
    {"due": UTCDateTime()},
)

STATE_COUNTS = sql.Statement(
    """
    SELECT referral_state, count(*) FROM users
    WHERE referral_state <> 'qualified'
    GROUP BY referral_state
    """
)

# A sum over every count row (106 ms at 10,000,000 users): the roll-up saves it, the overview reads the saved one.
QUALIFIED_TOTAL = sql.Statement("SELECT COALESCE(SUM(qualified), 0) FROM referral_counts")

SAVE_QUALIFIED_TOTAL = sql.Statement(
    """
    INSERT INTO programme_totals (name, value, computed_at)
    SELECT 'qualified', COALESCE(SUM(qualified), 0), :now FROM referral_counts
    WHERE true  -- SQLite reads ON CONFLICT after a bare FROM as a join's
    ON CONFLICT (name) DO UPDATE SET value = excluded.value, computed_at = excluded.computed_at
    """,
    {"now": UTCDateTime()},
)

SAVED_QUALIFIED_TOTAL = sql.Statement("SELECT value FROM programme_totals WHERE name = 'qualified'")

QUALIFIED_OF = sql.Statement("SELECT COALESCE(SUM(qualified), 0) FROM referral_counts WHERE user_id = :user_id")


def move(invitee_id: int, was: str, to: str, now: datetime) -> int | None:
    """Move the referral from ``was`` to ``to``; its inviter's id if this call moved it, else ``None``."""
    rows = sql.run(MOVE, {"invitee_id": invitee_id, "was": was, "to": to, "now": now})
    return rows[0][0] if rows else None


def standing(invitee_id: int) -> Standing | None:
    """The referral of ``invitee_id``, if they are someone's referral."""
    rows = sql.run(STANDING, {"invitee_id": invitee_id})
    return Standing._make((*rows[0][:7], bool(rows[0][7]))) if rows else None


def due(before: datetime, batch: int) -> list[int]:
    return [invitee for (invitee,) in sql.run(DUE, {"due": before, "batch": batch})]


def state_counts() -> dict[str, int]:
    """How many referrals stand in each state: those not qualified counted now (few, on a partial index), the
    qualified ones as the last roll-up saved them (counted now when none has run yet)."""
    counts = {state: int(count) for state, count in sql.run(STATE_COUNTS, {})}
    saved = sql.run(SAVED_QUALIFIED_TOTAL, {})
    counts["qualified"] = int((saved or sql.run(QUALIFIED_TOTAL, {}))[0][0])
    return counts


def save_qualified_total(now: datetime) -> None:
    sql.run(SAVE_QUALIFIED_TOTAL, {"now": now})


def qualified_of(user_id: int) -> int:
    return int(sql.run(QUALIFIED_OF, {"user_id": user_id})[0][0])

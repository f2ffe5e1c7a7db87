"""Who may enter the console (``staff``) and who is in it now (``console_sessions``)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
from referral.infra.models import UTCDateTime

NOW = {"now": UTCDateTime()}


class StaffMember(NamedTuple):
    user_id: int
    phone: str
    role: str
    totp_secret: str
    granted_at: datetime
    blocked: bool


STAFF_COLUMNS = {"granted_at": UTCDateTime()}

STAFF_OF_PHONE = sql.Statement(
    """
    SELECT s.user_id, u.phone, s.role, s.totp_secret, s.granted_at, u.blocked_at IS NOT NULL AS blocked
    FROM staff AS s JOIN users AS u ON u.id = s.user_id
    WHERE u.phone = :phone
    """,
    column_types=STAFF_COLUMNS,
)

ALL_STAFF = sql.Statement(
    """
    SELECT s.user_id, u.phone, s.role, s.totp_secret, s.granted_at, u.blocked_at IS NOT NULL AS blocked
    FROM staff AS s JOIN users AS u ON u.id = s.user_id
    ORDER BY s.granted_at, s.user_id
    """,
    column_types=STAFF_COLUMNS,
)

GRANT = sql.Statement(
    """
    INSERT INTO staff (user_id, role, totp_secret, totp_last_step, granted_at)
    VALUES (:user_id, :role, :secret, NULL, :now)
    """,
    NOW,
)

CHANGE_ROLE = sql.Statement("UPDATE staff SET role = :role WHERE user_id = :user_id")

# The member's console sessions end first, by name (their foreign key cascades too, but the end of every
# session must not depend on a pragma), then the member.
END_SESSIONS_OF_STAFF = sql.Statement("DELETE FROM console_sessions WHERE staff_id = :user_id")
REVOKE = sql.Statement("DELETE FROM staff WHERE user_id = :user_id RETURNING user_id")

# An authenticator code is taken once: only a time step later than the last one accepted moves it.
TAKE_TOTP_STEP = sql.Statement(
    """
    UPDATE staff SET totp_last_step = :step
    WHERE user_id = :user_id AND (totp_last_step IS NULL OR totp_last_step < :step)
    RETURNING user_id
    """
)

NEW_CONSOLE_SESSION = sql.Statement(
    """
    INSERT INTO console_sessions (id, staff_id, created_at, last_seen_at, address)
    VALUES (:id, :staff_id, :now, :now, :address)
    """,
    NOW,
)


class ConsoleSessionRow(NamedTuple):
    staff_id: int
    phone: str
    role: str
    last_seen_at: datetime


# A console session still inside both its absolute lifetime and its idle timeout, of a member not blocked.
LIVE_CONSOLE_SESSION = sql.Statement(
    """
    SELECT c.staff_id, u.phone, s.role, c.last_seen_at
    FROM console_sessions AS c
    JOIN staff AS s ON s.user_id = c.staff_id
    JOIN users AS u ON u.id = s.user_id
    WHERE c.id = :id AND c.created_at > :born_after AND c.last_seen_at > :seen_after AND u.blocked_at IS NULL
    """,
    {"born_after": UTCDateTime(), "seen_after": UTCDateTime()},
    {"last_seen_at": UTCDateTime()},
)

TOUCH_CONSOLE_SESSION = sql.Statement("UPDATE console_sessions SET last_seen_at = :now WHERE id = :id", NOW)

END_CONSOLE_SESSION = sql.Statement("DELETE FROM console_sessions WHERE id = :id")


def staff_of_phone(phone: str) -> StaffMember | None:
    rows = sql.run(STAFF_OF_PHONE, {"phone": phone})
    return StaffMember(*rows[0]) if rows else None


def all_staff() -> list[StaffMember]:
    return [StaffMember(*row) for row in sql.run(ALL_STAFF, {})]


def grant(user_id: int, role: str, secret: str, now: datetime) -> None:
    sql.run(GRANT, {"user_id": user_id, "role": role, "secret": secret, "now": now})


def change_role(user_id: int, role: str) -> None:
    sql.run(CHANGE_ROLE, {"user_id": user_id, "role": role})


def revoke(user_id: int) -> bool:
    sql.run(END_SESSIONS_OF_STAFF, {"user_id": user_id})
    return bool(sql.run(REVOKE, {"user_id": user_id}))


def take_totp_step(user_id: int, step: int) -> bool:
    """Whether ``step`` was later than any accepted before (and is now the last accepted)."""
    return bool(sql.run(TAKE_TOTP_STEP, {"user_id": user_id, "step": step}))


def new_console_session(session_id: str, staff_id: int, now: datetime, address: str | None) -> None:
    sql.run(NEW_CONSOLE_SESSION, {"id": session_id, "staff_id": staff_id, "now": now, "address": address})


def live_console_session(session_id: str, born_after: datetime, seen_after: datetime) -> ConsoleSessionRow | None:
    params = {"id": session_id, "born_after": born_after, "seen_after": seen_after}
    rows = sql.run(LIVE_CONSOLE_SESSION, params)
    return ConsoleSessionRow(*rows[0]) if rows else None


def touch_console_session(session_id: str, now: datetime) -> None:
    sql.run(TOUCH_CONSOLE_SESSION, {"id": session_id, "now": now})


def end_console_session(session_id: str) -> None:
    sql.run(END_CONSOLE_SESSION, {"id": session_id})

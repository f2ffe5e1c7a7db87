"""One-time codes, in the ``login_codes`` table: one live code per (purpose, phone), for signing in and for
confirming a phone change alike (the table keeps the name it was created with: renaming it would rename every
constraint for no change in behaviour). Codes are stored as HMACs, never as typed.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import phone_defences, sql
from referral.infra.database import dialect_name
from referral.infra.models import UTCDateTime


class CodeRow(NamedTuple):
    id: int
    user_id: int | None
    code_hash: str
    attempts: int
    created_at: datetime
    expires_at: datetime
    spent_at: datetime | None


# Spend the live code where every rule holds; the phone's run of failures before. A login code has no owner
# yet (:user_id NULL), a phone-change code the user who asked for it.
SPEND = sql.Statement(
    """
    UPDATE login_codes SET spent_at = :now
    WHERE purpose = :purpose AND phone = :phone AND code_hash = :code_hash
      AND user_id IS NOT DISTINCT FROM :user_id
      AND spent_at IS NULL AND expires_at > :now AND attempts < :max_attempts
      AND NOT EXISTS (SELECT 1 FROM phone_lockouts WHERE phone = :phone AND locked_until > :now)
    RETURNING id, (SELECT failures FROM phone_lockouts WHERE phone = :phone)
    """,
    {"now": UTCDateTime()},
)

# The phone's new code, unless its last one, still unused, was sent after :resend_after (then: no row). The
# interval stops a flood of unused codes: a code that was spent does not hold back the next one.
_NEW_CODE = """
    INSERT INTO login_codes (purpose, phone, user_id, code_hash, attempts, created_at, expires_at)
    VALUES (:purpose, :phone, :user_id, :code_hash, 0, :now, :expires_at)
    ON CONFLICT (purpose, phone) DO UPDATE
        SET user_id = excluded.user_id, code_hash = excluded.code_hash, attempts = 0, spent_at = NULL,
            created_at = excluded.created_at, expires_at = excluded.expires_at
        WHERE login_codes.created_at <= :resend_after OR login_codes.spent_at IS NOT NULL
    RETURNING id
"""
_NEW_CODE_TYPES = {"now": UTCDateTime(), "expires_at": UTCDateTime(), "resend_after": UTCDateTime()}
REPLACE = sql.Statement(_NEW_CODE, _NEW_CODE_TYPES)

# REPLACE and, when it made the code, the send that delivers it (counted by the caps, tracked to delivery), with
# the phone's sends the caps count (phone_defences.SENDS_COUNTED) as they stood before it: the statement reads
# its own snapshot, which never holds its own insert. One round trip (PostgreSQL: SQLite has no INSERT inside
# WITH and runs REPLACE, SENDS_SINCE and RECORD_SEND). The phone's lock is taken by a statement before this one
# (phone_defences.claim_phone), so that its snapshot holds every send committed before the lock was granted.
REPLACE_SENDING = sql.Statement(
    f"""
    WITH code AS ({_NEW_CODE}),
    send AS (
        INSERT INTO sms_sends (phone, purpose, sent_at, status, attempts)
        SELECT :phone, :purpose, :now, 'queued', 0 FROM code
        RETURNING id
    )
    SELECT (SELECT id FROM send) AS send_id, {phone_defences.SENDS_COUNTED}
    """,
    _NEW_CODE_TYPES | {"hour_ago": UTCDateTime(), "day_ago": UTCDateTime()},
    phone_defences.SENDS_COUNTED_TYPES,
)

CODE_OF = sql.Statement(
    """
    SELECT id, user_id, code_hash, attempts, created_at, expires_at, spent_at FROM login_codes
    WHERE purpose = :purpose AND phone = :phone
    """,
    column_types={"created_at": UTCDateTime(), "expires_at": UTCDateTime(), "spent_at": UTCDateTime()},
)

COUNT_WRONG_TRY = sql.Statement(
    "UPDATE login_codes SET attempts = attempts + 1 WHERE id = :id AND attempts < :max_attempts RETURNING attempts"
)

WITHDRAW = sql.Statement("DELETE FROM login_codes WHERE purpose = :purpose AND phone = :phone")


def spend(
    purpose: str, phone: str, code_hash: str, user_id: int | None, now: datetime, max_attempts: int
) -> tuple[bool, int | None]:
    """Spend the live code if every rule holds: whether it did, and the phone's failures before it."""
    params = {
        "purpose": purpose,
        "phone": phone,
        "code_hash": code_hash,
        "user_id": user_id,
        "now": now,
        "max_attempts": max_attempts,
    }
    spent = sql.run(SPEND, params)
    return (True, spent[0][1]) if spent else (False, None)


class NewCode(NamedTuple):
    """A phone's code about to be made: whose (a login code has no user yet), hashed, live from ``now`` to
    ``expires_at``, replacing the last one only if that was spent or made at or before ``resend_after``."""

    purpose: str
    phone: str
    user_id: int | None
    code_hash: str
    now: datetime
    expires_at: datetime
    resend_after: datetime


def replace(code: NewCode) -> bool:
    """Make ``code`` the phone's live code unless its last one is unused and newer than its ``resend_after``;
    whether it did."""
    return bool(sql.run(REPLACE, code._asdict()))


class Sending(NamedTuple):
    """A new code's send: its id, and the phone's sends before it as the caps count them."""

    send_id: int
    sent: phone_defences.SendCounts


def replace_sending(code: NewCode, day_ago: datetime, hour_ago: datetime) -> Sending | None:
    """``replace``, and when it made the code, its send, with the phone's sends the caps count (since
    ``day_ago`` and ``hour_ago``) before it; ``None`` if it made no code."""
    if dialect_name() != "postgresql":
        if not replace(code):
            return None
        sent = phone_defences.sends_since(code.phone, day_ago=day_ago, hour_ago=hour_ago)
        return Sending(phone_defences.record_send(code.phone, code.purpose, code.now), sent)
    params = code._asdict() | {"day_ago": day_ago, "hour_ago": hour_ago}
    row = sql.run(REPLACE_SENDING, params)[0]
    return None if row[0] is None else Sending(row[0], phone_defences.SendCounts(*row[1:]))


def code_of(purpose: str, phone: str) -> CodeRow | None:
    rows = sql.run(CODE_OF, {"purpose": purpose, "phone": phone})
    return CodeRow(*rows[0]) if rows else None


def count_wrong_try(code_id: int, max_attempts: int) -> int | None:
    """One more wrong try on the code; its tries now, or ``None`` if it had none left."""
    rows = sql.run(COUNT_WRONG_TRY, {"id": code_id, "max_attempts": max_attempts})
    return rows[0][0] if rows else None


def withdraw(purpose: str, phone: str) -> None:
    sql.run(WITHDRAW, {"purpose": purpose, "phone": phone})

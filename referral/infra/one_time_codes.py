"""One-time codes, in the ``login_codes`` table: one live code per (purpose, phone), for signing in and for
confirming a phone change alike (the table keeps the name it was created with: renaming it would rename every
constraint for no change in behaviour). Codes are stored as HMACs, never as typed.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
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
REPLACE = sql.Statement(
    """
    INSERT INTO login_codes (purpose, phone, user_id, code_hash, attempts, created_at, expires_at)
    VALUES (:purpose, :phone, :user_id, :code_hash, 0, :now, :expires_at)
    ON CONFLICT (purpose, phone) DO UPDATE
        SET user_id = excluded.user_id, code_hash = excluded.code_hash, attempts = 0, spent_at = NULL,
            created_at = excluded.created_at, expires_at = excluded.expires_at
        WHERE login_codes.created_at <= :resend_after OR login_codes.spent_at IS NOT NULL
    RETURNING id
    """,
    {"now": UTCDateTime(), "expires_at": UTCDateTime(), "resend_after": UTCDateTime()},
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


def replace(
    purpose: str,
    phone: str,
    user_id: int | None,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
    resend_after: datetime,
) -> bool:
    """Make ``code_hash`` the phone's live code unless its last one is unused and newer than ``resend_after``;
    whether it did."""
    params = {
        "purpose": purpose,
        "phone": phone,
        "user_id": user_id,
        "code_hash": code_hash,
        "now": now,
        "expires_at": expires_at,
        "resend_after": resend_after,
    }
    return bool(sql.run(REPLACE, params))


def code_of(purpose: str, phone: str) -> CodeRow | None:
    rows = sql.run(CODE_OF, {"purpose": purpose, "phone": phone})
    return CodeRow(*rows[0]) if rows else None


def count_wrong_try(code_id: int, max_attempts: int) -> int | None:
    """One more wrong try on the code; its tries now, or ``None`` if it had none left."""
    rows = sql.run(COUNT_WRONG_TRY, {"id": code_id, "max_attempts": max_attempts})
    return rows[0][0] if rows else None


def withdraw(purpose: str, phone: str) -> None:
    sql.run(WITHDRAW, {"purpose": purpose, "phone": phone})

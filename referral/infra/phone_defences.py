"""What the per-phone defences keep: the sends (``sms_sends``, counted by the caps and tracked to delivery),
the runs of wrong codes and lockouts (``phone_lockouts``), and the lock that serialises sends to one phone."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
from referral.infra.database import dialect_name
from referral.infra.models import UTCDateTime


class SendCounts(NamedTuple):
    in_day: int
    in_hour: int
    oldest_in_day: datetime | None
    oldest_in_hour: datetime | None


# What the caps count: the phone's sends in the last day and hour, and the oldest of each (SendCounts' columns);
# also read by the statement that makes a code and its send (one_time_codes.REPLACE_SENDING).
SENDS_COUNTED = """
    count(*) AS in_day,
    count(*) FILTER (WHERE sent_at > :hour_ago) AS in_hour,
    min(sent_at) AS oldest_in_day,
    min(sent_at) FILTER (WHERE sent_at > :hour_ago) AS oldest_in_hour
    FROM sms_sends WHERE phone = :phone AND sent_at > :day_ago
"""
SENDS_COUNTED_TYPES = {"oldest_in_day": UTCDateTime(), "oldest_in_hour": UTCDateTime()}

SENDS_SINCE = sql.Statement(
    f"SELECT {SENDS_COUNTED}", {"hour_ago": UTCDateTime(), "day_ago": UTCDateTime()}, SENDS_COUNTED_TYPES
)

RECORD_SEND = sql.Statement(
    """
    INSERT INTO sms_sends (phone, purpose, sent_at, status, attempts) VALUES (:phone, :purpose, :now, 'queued', 0)
    RETURNING id
    """,
    {"now": UTCDateTime()},
)

FORGET_SEND = sql.Statement("DELETE FROM sms_sends WHERE id = :id")

SENDS_OF_PHONE = sql.Statement(
    "SELECT sent_at, purpose, status FROM sms_sends WHERE phone = :phone ORDER BY sent_at DESC",
    column_types={"sent_at": UTCDateTime()},
)


class SendRow(NamedTuple):
    sent_at: datetime
    purpose: str
    status: str


LOCKOUT_OF = sql.Statement(
    "SELECT locked_until FROM phone_lockouts WHERE phone = :phone", column_types={"locked_until": UTCDateTime()}
)

# The phone's lock until the transaction ends (PostgreSQL; SQLite runs one writer at a time), and its lockout,
# read when the statement begins, before any wait for the lock.
CLAIM_PHONE = sql.Statement(
    """
    SELECT pg_advisory_xact_lock(:key),
           (SELECT locked_until FROM phone_lockouts WHERE phone = :phone) AS locked_until
    """
)

COUNT_FAILURE = sql.Statement(
    """
    INSERT INTO phone_lockouts (phone, failures) VALUES (:phone, 1)
    ON CONFLICT (phone) DO UPDATE SET failures = phone_lockouts.failures + 1
    RETURNING failures
    """
)

LOCK_OUT = sql.Statement(
    "UPDATE phone_lockouts SET failures = 0, locked_until = :locked_until WHERE phone = :phone",
    {"locked_until": UTCDateTime()},
)

CLEAR_FAILURES = sql.Statement("UPDATE phone_lockouts SET failures = 0 WHERE phone = :phone")

# Staff lift a lockout: the lock and the run of failures both end; whether the phone was locked.
LIFT_LOCKOUT = sql.Statement(
    """
    UPDATE phone_lockouts SET failures = 0, locked_until = NULL
    WHERE phone = :phone AND locked_until > :now
    RETURNING phone
    """,
    {"now": UTCDateTime()},
)


def claim_phone(phone: str) -> datetime | None:
    """Until the transaction ends, make other transactions that send to ``phone`` wait; its lockout's end, read
    in the same statement (as committed when the statement began, before any wait for the lock)."""
    if dialect_name() != "postgresql":
        return lockout_of(phone)
    digest = hashlib.sha256(f"phone:{phone}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    locked_until: datetime | None = sql.run(CLAIM_PHONE, {"key": key, "phone": phone})[0][1]
    return locked_until


def sends_since(phone: str, day_ago: datetime, hour_ago: datetime) -> SendCounts:
    """How many codes went to ``phone`` in the last day and hour, and the oldest of each."""
    row = sql.run(SENDS_SINCE, {"phone": phone, "day_ago": day_ago, "hour_ago": hour_ago})[0]
    return SendCounts(*row)


def record_send(phone: str, purpose: str, now: datetime) -> int:
    """A send, counted by the caps and tracked to delivery; its id."""
    send_id: int = sql.run(RECORD_SEND, {"phone": phone, "purpose": purpose, "now": now})[0][0]
    return send_id


def sends_of_phone(phone: str) -> list[SendRow]:
    return [SendRow(*row) for row in sql.run(SENDS_OF_PHONE, {"phone": phone})]


def forget_send(send_id: int) -> None:
    """A send that never went out (its code was withdrawn): not counted against the phone."""
    sql.run(FORGET_SEND, {"id": send_id})


def lockout_of(phone: str) -> datetime | None:
    rows = sql.run(LOCKOUT_OF, {"phone": phone})
    return rows[0][0] if rows else None


def count_failure(phone: str) -> int:
    """One more wrong code in the phone's run; the run's length now."""
    failures: int = sql.run(COUNT_FAILURE, {"phone": phone})[0][0]
    return failures


def lock_out(phone: str, until: datetime) -> None:
    """Lock the phone until ``until``, its run of failures starting again."""
    sql.run(LOCK_OUT, {"phone": phone, "locked_until": until})


def clear_failures(phone: str) -> None:
    sql.run(CLEAR_FAILURES, {"phone": phone})


def lift_lockout(phone: str, now: datetime) -> bool:
    return bool(sql.run(LIFT_LOCKOUT, {"phone": phone, "now": now}))

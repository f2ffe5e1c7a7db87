"""What the console's deliveries page reads: SMS sends by hour and status and by number prefix (a spike of
sends to one range is what SMS pumping looks like), the latest failures, and the webhook deliveries that gave
up or were disabled."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
from referral.infra.models import UTCDateTime

SMS_OF_HOUR = sql.Statement(
    """
    SELECT status, count(*) FROM sms_sends WHERE sent_at >= :start AND sent_at < :end
    GROUP BY status
    """,
    {"start": UTCDateTime(), "end": UTCDateTime()},
)

# The first five characters of an E.164 number: "+7999" is Russia's 999 range.
SMS_BY_PREFIX = sql.Statement(
    """
    SELECT substr(phone, 1, 5) AS prefix, count(*) AS sends,
           count(*) FILTER (WHERE status = 'failed') AS failed
    FROM sms_sends WHERE sent_at >= :since
    GROUP BY substr(phone, 1, 5)
    ORDER BY sends DESC, prefix
    LIMIT :limit
    """,
    {"since": UTCDateTime()},
)


class SmsFailure(NamedTuple):
    sent_at: datetime
    phone: str
    purpose: str
    attempts: int
    last_error: str | None


LATEST_SMS_FAILURES = sql.Statement(
    """
    SELECT sent_at, phone, purpose, attempts, last_error FROM sms_sends WHERE status = 'failed'
    ORDER BY sent_at DESC LIMIT :limit
    """,
    column_types={"sent_at": UTCDateTime()},
)


class FailedDelivery(NamedTuple):
    id: int
    event_id: str
    type: str
    url: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime


FAILED_WEBHOOK_DELIVERIES = sql.Statement(
    """
    SELECT d.id, d.event_id, e.type, d.url, d.status, d.attempts, d.last_status_code, d.last_error, d.created_at
    FROM webhook_deliveries AS d JOIN webhook_events AS e ON e.id = d.event_id
    WHERE d.status IN ('failed', 'disabled')
    ORDER BY d.id DESC LIMIT :limit
    """,
    column_types={"created_at": UTCDateTime()},
)

DISABLED_ENDPOINTS = sql.Statement(
    "SELECT url, disabled_at FROM webhook_endpoints ORDER BY disabled_at DESC",
    column_types={"disabled_at": UTCDateTime()},
)

EVENT_TYPE = sql.Statement("SELECT type FROM webhook_events WHERE id = :id")


def sms_of_hour(start: datetime, end: datetime) -> dict[str, int]:
    return {status: count for status, count in sql.run(SMS_OF_HOUR, {"start": start, "end": end})}


def sms_by_prefix(since: datetime, limit: int) -> list[tuple[str, int, int]]:
    return [
        (prefix, sends, failed) for prefix, sends, failed in sql.run(SMS_BY_PREFIX, {"since": since, "limit": limit})
    ]


def latest_sms_failures(limit: int) -> list[SmsFailure]:
    return [SmsFailure(*row) for row in sql.run(LATEST_SMS_FAILURES, {"limit": limit})]


def failed_webhook_deliveries(limit: int) -> list[FailedDelivery]:
    return [FailedDelivery(*row) for row in sql.run(FAILED_WEBHOOK_DELIVERIES, {"limit": limit})]


def disabled_endpoints() -> list[tuple[str, datetime]]:
    return [(url, at) for url, at in sql.run(DISABLED_ENDPOINTS, {})]


def event_type(event_id: str) -> str | None:
    rows = sql.run(EVENT_TYPE, {"id": event_id})
    return rows[0][0] if rows else None

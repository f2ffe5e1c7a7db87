"""Are messages getting out? SMS by hour and status, by number range (pumping shows as one range's spike),
the latest failures; webhook deliveries that gave up, replayed by staff, and endpoints disabled by a 410."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers

from referral import clock
from referral.domain import events
from referral.domain.staff import ConsoleStaff, record
from referral.infra import delivery_reports, webhooks
from referral.infra.delivery_reports import FailedDelivery, SmsFailure

HOURS = 48
PREFIX_HOURS = 24
LISTED = 20
SMS_STATUSES = ("queued", "retrying", "sent", "failed")


@dataclass(frozen=True)
class Prefix:
    prefix: str  # "+7999"
    region: str  # "RU", or "" if the country code has none
    sends: int
    failed: int


@dataclass(frozen=True)
class Report:
    hours: list[tuple[datetime, dict[str, int]]]  # oldest first
    prefixes: list[Prefix]
    sms_failures: list[SmsFailure]
    webhook_failures: list[FailedDelivery]
    disabled_endpoints: list[tuple[str, datetime]]


def report() -> Report:
    now = clock.utcnow()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    hours = []
    for back in range(HOURS - 1, -1, -1):
        start = this_hour - timedelta(hours=back)
        hours.append((start, delivery_reports.sms_of_hour(start, start + timedelta(hours=1))))
    prefixes = [
        Prefix(prefix, _region(prefix), sends, failed)
        for prefix, sends, failed in delivery_reports.sms_by_prefix(now - timedelta(hours=PREFIX_HOURS), LISTED)
    ]
    return Report(
        hours=hours,
        prefixes=prefixes,
        sms_failures=delivery_reports.latest_sms_failures(LISTED),
        webhook_failures=delivery_reports.failed_webhook_deliveries(LISTED),
        disabled_endpoints=delivery_reports.disabled_endpoints(),
    )


def _region(prefix: str) -> str:
    """The region of the longest country code the prefix starts with (1 to 3 digits)."""
    for length in (1, 2, 3):
        digits = prefix[1 : 1 + length]
        if digits.isdigit() and (region := phonenumbers.region_code_for_country_code(int(digits))) != "ZZ":
            return region
    return ""


def replay(staff: ConsoleStaff, event_id: str) -> list[str] | None:
    """Deliver the event again to every endpoint that wants its type (recorded); ``None`` if there is no such
    event."""
    event_type = delivery_reports.event_type(event_id)
    if event_type is None:
        return None
    record(staff, "webhook.replayed", event=event_id, type=event_type)
    return events.replay(event_id, event_type)  # commits the replay and the entry together


def enable_endpoint(staff: ConsoleStaff, url: str) -> bool:
    """Deliver to ``url`` again after its 410 Gone; whether it was disabled. The attempt is recorded either way."""
    record(staff, "webhook.endpoint_enabled", url=url)
    return webhooks.enable_endpoint(url)  # commits the entry with it

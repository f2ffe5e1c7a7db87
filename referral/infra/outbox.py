"""The webhook outbox (``webhook_events``, ``webhook_deliveries``): an event and one delivery per endpoint that
wants it, written in the transaction of the change the event reports (``infra/webhooks.py`` delivers them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from referral.extensions import db
from referral.infra import sql
from referral.infra.models import UTCDateTime

NEW_EVENT = sql.Statement(
    "INSERT INTO webhook_events (id, type, payload, created_at) VALUES (:id, :type, :payload, :now)",
    {"now": UTCDateTime()},
)

NEW_DELIVERY = sql.Statement(
    """
    INSERT INTO webhook_deliveries (event_id, url, status, attempts, next_attempt_at, created_at)
    VALUES (:event_id, :url, 'pending', 0, :now, :now)
    """,
    {"now": UTCDateTime()},
)


def add_event(event_id: str, event_type: str, payload: str, urls: Sequence[str], now: datetime) -> None:
    """The event, and a delivery of it to each of ``urls``, due now."""
    sql.run(NEW_EVENT, {"id": event_id, "type": event_type, "payload": payload, "now": now})
    deliver_again(event_id, urls, now)


def deliver_again(event_id: str, urls: Sequence[str], now: datetime) -> None:
    """A new delivery of the event to each of ``urls``, due now (one statement for all of them)."""
    if urls:
        db.session.execute(NEW_DELIVERY.clause, [{"event_id": event_id, "url": url, "now": now} for url in urls])

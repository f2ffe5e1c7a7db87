"""Webhook delivery: the outbox's deliveries sent, signed, retried until acknowledged, each attempt recorded.

- **Format**: Standard Webhooks (the ``standardwebhooks`` package signs): ``webhook-id`` (the event's id, the
  same on every retry), ``webhook-timestamp`` (this attempt's time), ``webhook-signature`` (HMAC-SHA256 over
  ``id.timestamp.body``, one ``v1,`` signature per configured secret, the newest first, so that a receiver
  verifies with either secret during a rotation). The body is the event's stored JSON, byte for byte.
- **Claims**: a worker takes due deliveries with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one
  writer at a time) and moves their ``next_attempt_at`` a lease ahead in the same statement: two workers never
  hold the same delivery, and one that dies holding it leaves it due again once the lease has passed
  (at least once). The outbox is the queue, so nothing rests on Redis.
- **Outcome**: any 2xx acknowledges; 410 disables that endpoint (its pending deliveries too, until
  ``flask webhooks enable``); everything else (other statuses, timeouts, refused connections, redirects, which
  are never followed) is retried on the schedule below, with jitter, for about a day, then ``failed``.
- **Where it may go**: ``http`` only outside production (the settings refuse it there), and never to loopback,
  private, link-local or otherwise reserved addresses unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES``.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from sqlalchemy import delete, select, update
from standardwebhooks.webhooks import Webhook

from referral import clock
from referral.extensions import WEBHOOK_DELIVERY, db
from referral.infra import metrics
from referral.infra.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

# Seconds before attempt 2, 3, ...: about 25 hours in all, then the delivery is failed.
RETRY_SCHEDULE = (10, 60, 300, 1800, 3600, 7200, 14400, 28800, 36000)
JITTER = 0.2  # each wait is drawn within ±20%, so that endpoints recovering together are not hit together
LEASE_SECONDS = 60  # a claimed delivery is due again after this if its worker never reports back
BATCH = 20


@dataclass(frozen=True)
class Claimed:
    id: int
    event_id: str
    url: str
    attempts: int  # this attempt's number
    payload: str


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    latency_ms: int
    error: str | None


class UnsafeDestination(Exception):
    """The URL resolves to an address a webhook must not reach."""


def signed_headers(secrets: Sequence[str], event_id: str, at: datetime, body: str) -> dict[str, str]:
    signatures = " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets)
    return {
        "content-type": "application/json",
        "user-agent": "referral-webhooks/1",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


def post(url: str, headers: Mapping[str, str], body: str, *, timeout: float, allow_private: bool) -> Answer:
    """One POST: no redirect followed, bounded in time, to a public address unless private ones are allowed."""
    started = time.monotonic()
    try:
        if not allow_private:
            check_destination(url)
        response = requests.post(url, data=body.encode(), headers=dict(headers), timeout=timeout, allow_redirects=False)
        return Answer(response.status_code, _ms_since(started), None)
    except UnsafeDestination as error:
        return Answer(None, _ms_since(started), str(error))
    except requests.Timeout:
        return Answer(None, _ms_since(started), f"timed out after {timeout} s")
    except requests.RequestException as error:
        return Answer(None, _ms_since(started), f"unreachable: {type(error).__name__}")


def check_destination(url: str) -> None:
    """Refuse hosts that resolve to loopback, private, link-local, multicast or reserved addresses.

    Checked just before each attempt; a name that resolves differently a moment later (DNS rebinding) is the
    one gap left, which egress rules on the network close.
    """
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as error:
        raise UnsafeDestination(f"cannot resolve {parts.hostname}: {error}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise UnsafeDestination(f"{parts.hostname} resolves to {address}, which webhooks may not reach")


def claim_due(limit: int = BATCH, now: datetime | None = None) -> list[Claimed]:
    """Take up to ``limit`` due deliveries for this worker (a lease each) and commit the claim."""
    now = now or clock.utcnow()
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=now + timedelta(seconds=LEASE_SECONDS), attempts=WebhookDelivery.attempts + 1)
        .returning(WebhookDelivery.id, WebhookDelivery.event_id, WebhookDelivery.url, WebhookDelivery.attempts)
    ).all()
    payloads = dict(
        db.session.execute(
            select(WebhookEvent.id, WebhookEvent.payload).where(WebhookEvent.id.in_({row[1] for row in claimed}))
        ).all()
    )
    db.session.commit()
    return [Claimed(id, event_id, url, attempts, payloads[event_id]) for id, event_id, url, attempts in claimed]


def record(claimed: Claimed, answer: Answer, now: datetime | None = None) -> str:
    """Write the attempt and what follows from it; the delivery's new status."""
    now = now or clock.utcnow()
    db.session.add(
        WebhookAttempt(
            delivery_id=claimed.id,
            attempted_at=now,
            status_code=answer.status_code,
            latency_ms=answer.latency_ms,
            error=answer.error and answer.error[:200],
        )
    )
    values: dict[str, Any] = {"last_status_code": answer.status_code, "last_error": answer.error and answer.error[:200]}
    code = answer.status_code
    if code is not None and 200 <= code < 300:
        values.update(status="delivered", delivered_at=now)
    elif code == 410:
        values.update(status="disabled")
        disable_endpoint(claimed.url, now)
    elif claimed.attempts > len(RETRY_SCHEDULE):
        values.update(status="failed")
        log.error("webhook %s to %s failed for good after %d attempts", claimed.event_id, claimed.url, claimed.attempts)
    else:
        wait = RETRY_SCHEDULE[claimed.attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)
        values.update(next_attempt_at=now + timedelta(seconds=wait))
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == claimed.id).values(**values))
    db.session.commit()
    return str(values.get("status", "pending"))


def disable_endpoint(url: str, now: datetime) -> None:
    """410 Gone: the receiver says it wants no more. Its pending deliveries stop with it."""
    if db.session.get(WebhookEndpoint, url) is None:
        db.session.add(WebhookEndpoint(url=url, disabled_at=now))
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.url == url, WebhookDelivery.status == "pending")
        .values(status="disabled")
    )
    log.warning("webhook endpoint %s answered 410 Gone: disabled", url)


def enable_endpoint(url: str) -> bool:
    """Deliver to ``url`` again (new events; disabled deliveries stay as they are); whether it was disabled."""
    removed = db.session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.url == url)).rowcount  # type: ignore[attr-defined]
    db.session.commit()
    return bool(removed)


def deliver_due(config: Mapping[str, Any], limit: int = BATCH) -> int:
    """One pass: claim what is due, send each, record each; how many were attempted."""
    claimed = claim_due(limit)
    disabled = set(db.session.scalars(select(WebhookEndpoint.url))) if claimed else set()
    for delivery in claimed:
        if delivery.url in disabled:  # emitted before the endpoint was disabled, or since
            db.session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(status="disabled")
            )
            db.session.commit()
            continue
        headers = signed_headers(config["WEBHOOK_SECRET"], delivery.event_id, clock.utcnow(), delivery.payload)
        answer = post(
            delivery.url,
            headers,
            delivery.payload,
            timeout=config["WEBHOOK_TIMEOUT_SECONDS"],
            allow_private=config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"],
        )
        metrics.WEBHOOK_DELIVERIES.labels(record(delivery, answer)).inc()
    return len(claimed)


class DeliveryLoop:
    """Passes of ``deliver_due`` until stopped: in a thread of each app process, or in ``flask webhooks worker``."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        poll = self.app.config["WEBHOOK_POLL_SECONDS"]
        while not self.stopped.is_set():
            try:
                with self.app.app_context():
                    busy = deliver_due(self.app.config) > 0
            except Exception:  # the database is away: try again at the next poll
                log.exception("webhook delivery pass failed")
                busy = False
            if not busy:
                self.stopped.wait(poll)

    def start_in_background(self) -> None:
        """Started on a process's first request: after gunicorn's fork, once per process."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self.run, name="webhooks", daemon=True)
                self._thread.start()


def init_webhooks(app: Flask) -> None:
    """With ``WEBHOOK_DELIVERY=threads`` (no Redis, one machine) and endpoints configured, each app process
    delivers in a thread of its own; otherwise ``flask webhooks worker`` processes do."""
    loop = DeliveryLoop(app)
    app.extensions[WEBHOOK_DELIVERY] = loop
    if app.config["WEBHOOK_URLS"] and app.config["WEBHOOK_DELIVERY"] == "threads":
        app.before_request(loop.start_in_background)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

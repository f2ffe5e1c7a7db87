"""``flask webhooks``: the delivery worker, what it has done, replays and a signed test ping."""

from __future__ import annotations

import json
import signal
import uuid
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from referral import clock
from referral.domain import events
from referral.extensions import db
from referral.infra import metrics
from referral.infra import webhooks as delivery
from referral.infra.models import WEBHOOK_STATUSES, WebhookDelivery, WebhookEndpoint, WebhookEvent

webhooks = AppGroup("webhooks", help="Webhook delivery: the worker, its record, replays and test pings.")


@webhooks.command("worker")
@click.option("--burst", is_flag=True, help="Deliver what is due now, then exit.")
def worker(burst: bool) -> None:
    """Deliver due webhooks until stopped; run several, they never take the same delivery (SKIP LOCKED)."""
    if burst:
        while delivery.deliver_due(current_app.config):
            pass
        return
    loop = delivery.DeliveryLoop(current_app)  # type: ignore[arg-type]  # this thread holds the app context
    metrics.serve_for_worker(current_app.config)
    signal.signal(signal.SIGTERM, lambda *_: loop.stopped.set())  # finish the delivery in hand, then stop
    loop.run()


@webhooks.command("status")
def status() -> None:
    """Deliveries by status, per endpoint, and the endpoints disabled by a 410."""
    rows = db.session.execute(
        select(WebhookDelivery.url, WebhookDelivery.status, func.count())
        .group_by(WebhookDelivery.url, WebhookDelivery.status)
        .order_by(WebhookDelivery.url)
    ).all()
    by_url: dict[str, dict[str, int]] = {}
    for url, state, count in rows:
        by_url.setdefault(url, {})[state] = count
    for url, _ in current_app.config["WEBHOOK_URLS"]:
        by_url.setdefault(url, {})
    for url, counts in by_url.items():
        click.echo(f"{url}: " + ", ".join(f"{state} {counts.get(state, 0)}" for state in WEBHOOK_STATUSES))
    for endpoint in db.session.scalars(select(WebhookEndpoint)):
        click.echo(f"disabled since {endpoint.disabled_at:%Y-%m-%d %H:%M:%S} (410 Gone): {endpoint.url}")


@webhooks.command("list")
@click.option("--failed", "only_failed", is_flag=True, help="Only deliveries that gave up or were disabled.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def list_deliveries(only_failed: bool, limit: int) -> None:
    """The newest deliveries: event, type, endpoint, status, attempts, the last answer."""
    query = (
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if only_failed:
        query = query.where(WebhookDelivery.status.in_(["failed", "disabled"]))
    for item, event_type in db.session.execute(query):
        answer = item.last_status_code or item.last_error or "-"
        click.echo(f"{item.event_id}  {event_type:<20} {item.status:<9} {item.attempts:>2}  {answer}  {item.url}")


@webhooks.command("replay")
@click.argument("event_id")
def replay(event_id: str) -> None:
    """Send EVENT_ID again, now, to every endpoint that wants its type (same id: receivers deduplicate)."""
    event = db.session.get(WebhookEvent, event_id)
    if event is None:
        raise click.ClickException(f"no event {event_id}")
    if not events.subscribers(event.type):
        raise click.ClickException(f"no endpoint in WEBHOOK_URLS wants {event.type}")
    urls = events.replay(event.id, event.type)
    click.echo(f"replaying {event_id} ({event.type}) to {len(urls)} endpoint(s)")


@webhooks.command("enable")
@click.argument("url")
def enable(url: str) -> None:
    """Deliver to URL again after it answered 410 Gone (new events from now on)."""
    if not delivery.enable_endpoint(url):
        raise click.ClickException(f"{url} is not disabled")
    click.echo(f"enabled {url}")


@webhooks.command("test")
@click.argument("url")
def test(url: str) -> None:
    """Send a signed ping to URL now (nothing is recorded) and print what it answered."""
    config = current_app.config
    if not config["WEBHOOK_SECRET"]:
        raise click.ClickException("set WEBHOOK_SECRET to sign the ping")
    now = clock.utcnow()
    event_id = f"evt_test_{uuid.uuid4().hex}"
    body: dict[str, Any] = {"type": "webhook.test", "timestamp": events.iso(now), "data": {}}
    payload = json.dumps(body)
    answer = delivery.post(
        url,
        delivery.signed_headers(config["WEBHOOK_SECRET"], event_id, now, payload),
        payload,
        timeout=config["WEBHOOK_TIMEOUT_SECONDS"],
        allow_private=config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"],
    )
    outcome = answer.status_code if answer.status_code is not None else answer.error
    click.echo(f"{url} answered {outcome} in {answer.latency_ms} ms")
    if answer.status_code is None or not 200 <= answer.status_code < 300:
        raise SystemExit(1)

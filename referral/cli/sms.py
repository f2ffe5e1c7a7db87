"""``flask sms``: the delivery worker and what it has done."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from rq import SimpleWorker
from sqlalchemy import func, select

from referral import clock
from referral.domain.deliveries import SMS_STATUSES
from referral.extensions import SMS_DISPATCHER, db
from referral.infra import metrics
from referral.infra.models import SmsSend
from referral.infra.sms.dispatch import RqDispatcher
from referral.logs import mask_phone

sms = AppGroup("sms", help="SMS delivery: the worker and what it has done.")


@sms.command("worker")
@click.option("--burst", is_flag=True, help="Deliver what is queued now, then exit.")
def sms_worker(burst: bool) -> None:
    """Deliver queued codes from Redis (REDIS_URL); run as many as the gateway's latency calls for."""
    dispatcher = current_app.extensions[SMS_DISPATCHER]
    if not isinstance(dispatcher, RqDispatcher):
        raise click.ClickException(
            "no queue to work on: without REDIS_URL (or with SMS_BACKEND=memory) codes are delivered by threads "
            "inside each app process"
        )
    # A worker killed mid-delivery leaves its job "started"; RQ retries it once the job's heartbeat has
    # lapsed (about a minute), when some worker next cleans the registries: every 30 s here, not RQ's 10 min.
    # An idle worker cleans only when its wait on the queue ends, which by RQ's default worker_ttl is every
    # 405 s: with 45 it is every 30 s, so an abandoned code goes out even when no other code follows it.
    worker = SimpleWorker([dispatcher.queue], connection=dispatcher.connection, maintenance_interval=30, worker_ttl=45)
    metrics.serve_for_worker(current_app.config)
    worker.work(burst=burst, with_scheduler=not burst, logging_level=current_app.config["LOG_LEVEL"])


@sms.command("status")
@click.option("--hours", default=24, show_default=True, help="How far back to look.")
def sms_status(hours: int) -> None:
    """Codes sent in the last HOURS by delivery status, the latest failures, and the Redis queue."""
    since = clock.utcnow() - timedelta(hours=hours)
    counts = dict(
        db.session.execute(
            select(SmsSend.status, func.count()).where(SmsSend.sent_at > since).group_by(SmsSend.status)
        ).all()
    )
    click.echo(f"last {hours} h: " + ", ".join(f"{status} {counts.get(status, 0)}" for status in SMS_STATUSES))
    failures = db.session.scalars(
        select(SmsSend)
        .where(SmsSend.sent_at > since, SmsSend.status.in_(["failed", "retrying"]))
        .order_by(SmsSend.sent_at.desc())
        .limit(10)
    ).all()
    for send in failures:
        click.echo(
            f"  {send.sent_at:%Y-%m-%d %H:%M:%S} {mask_phone(send.phone)} {send.status} "
            f"after {send.attempts} attempt(s): {send.last_error}"
        )
    dispatcher = current_app.extensions[SMS_DISPATCHER]
    if isinstance(dispatcher, RqDispatcher):
        failed = dispatcher.queue.failed_job_registry.count
        click.echo(f"redis queue '{dispatcher.queue.name}': {dispatcher.queue.count} waiting, {failed} failed jobs")

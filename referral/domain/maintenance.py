"""What grows with traffic, kept at a steady size: ``flask maintenance purge`` (README, "Data that grows").

Each kind of row has its time (a code its expiry, a session its refresh token's lifetime or its sign-out, an SMS
record a week, a finished webhook delivery WEBHOOK_RETENTION_DAYS); the purge deletes what is past it a batch
per transaction, so that no lock is held long and a batch is a few milliseconds of the database's time. The
request's statement timeout stays on: a batch that outgrew it would be a purge that needs looking at.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app

from referral import clock
from referral.extensions import db
from referral.infra import fraud_signals, retention

PURGE_BATCH = 5000
# Between two batches the purge waits this long, so that the API's commits do not queue behind its write-ahead
# log for long: with a week's backlog it halved the sign-ups' throughput without a pause (bench/RESULTS.md,
# "The purge"); an hourly purge is a batch or two, which the pause does not lengthen noticeably.
PURGE_PAUSE_SECONDS = 0.1
# The send caps look back one day; `flask sms status --hours` reads a week.
SMS_RECORDS_KEPT = timedelta(days=7)


def purge(batch: int = PURGE_BATCH, pause: float = PURGE_PAUSE_SECONDS) -> dict[str, int]:
    """Delete every kind of row past its time (the fraud rules' footprints past FRAUD_SIGNALS_DAYS among
    them), oldest first, ``batch`` rows per transaction and ``pause`` seconds between two of them, then the
    evidence of holds decided before FRAUD_SIGNALS_DAYS; how many rows of each."""
    now = clock.utcnow()
    config = current_app.config
    webhooks_before = now - timedelta(days=config["WEBHOOK_RETENTION_DAYS"])
    signals_before = now - timedelta(days=config["FRAUD_SIGNALS_DAYS"])
    purges = (
        (retention.LOGIN_CODES, now),
        (retention.EXPIRED_SESSIONS, now),
        (retention.REVOKED_SESSIONS, now),
        (retention.SMS_SENDS, now - SMS_RECORDS_KEPT),
        (retention.PHONE_LOCKOUTS, now),
        (retention.CONSOLE_SESSIONS, now - timedelta(seconds=config["CONSOLE_IDLE_SECONDS"])),
        (retention.WEBHOOK_DELIVERIES, webhooks_before),
        (retention.WEBHOOK_EVENTS, webhooks_before),
        (retention.FOOTPRINTS, signals_before),
    )
    purged: dict[str, int] = {}
    for kind, before in purges:
        purged[kind.name] = 0
        while deleted := kind.run(before, batch):
            purged[kind.name] += deleted
            db.session.commit()
            if deleted == batch:  # more to come
                time.sleep(pause)
        db.session.commit()
    # Decided holds keep their reasons and decisions; their evidence goes (few rows: one statement).
    purged["evidence of decided holds"] = fraud_signals.purge_evidence(signals_before)
    db.session.commit()
    return purged

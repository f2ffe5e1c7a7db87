"""The RQ job that delivers one message; it runs inside ``flask sms worker``, which holds an app context."""

from __future__ import annotations

from flask import current_app
from rq import get_current_job

from referral.extensions import SMS_DISPATCHER, db
from referral.infra.sms.delivery import deliver


def rq_deliver(send_id: int, phone: str, text: str) -> None:
    job = get_current_job()
    retries_left = job.retries_left if job is not None else None
    sender = current_app.extensions[SMS_DISPATCHER].sender
    try:
        deliver(sender, send_id, phone, text, last_attempt=not retries_left)
    finally:
        db.session.remove()  # the worker's app context outlives every job: each job starts with a fresh session

"""Delivering one message and recording how it went in ``sms_sends``: the same for every dispatcher."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from referral import clock
from referral.extensions import db
from referral.infra import metrics, sql
from referral.infra.models import UTCDateTime
from referral.infra.sms.senders import SmsGatewayError, SmsSender
from referral.logs import mask_phone

log = logging.getLogger(__name__)
# Recording an outcome outlasts a database restart: 20 tries a second apart.
RECORD_ATTEMPTS = 20
RECORD_PAUSE_SECONDS = 1.0
# One message's outcome (plain SQL: a worker records one per message, as often as codes are asked for).
RECORD_OUTCOME = sql.Statement(
    "UPDATE sms_sends SET status = :status, attempts = attempts + 1, last_error = :error, "
    "delivered_at = COALESCE(:delivered_at, delivered_at) WHERE id = :id RETURNING id",
    {"delivered_at": UTCDateTime()},
)


def deliver(sender: SmsSender, send_id: int, phone: str, text: str, *, last_attempt: bool) -> None:
    """Hand the message to ``sender``; record ``sent``, or the error (``failed`` if no retry follows).

    Raises ``SmsGatewayError`` again when it is worth a retry, so the dispatcher can schedule one.
    """
    try:
        sender.send(phone, text)
    except SmsGatewayError as error:
        final = last_attempt or not error.retryable
        metrics.SMS_DELIVERIES.labels(sender.name, "failed" if final else "retrying").inc()
        _record(send_id, "failed" if final else "retrying", str(error))
        log.error("sms to %s failed (%s): %s", mask_phone(phone), "final" if final else "will retry", error)
        if not final:
            raise
        return
    except Exception as error:  # a bug in a sender must not kill the worker, nor vanish
        metrics.SMS_DELIVERIES.labels(sender.name, "failed").inc()
        _record(send_id, "failed", f"{type(error).__name__}: {error}")
        log.exception("sms to %s failed with an unexpected error", mask_phone(phone))
        return
    metrics.SMS_DELIVERIES.labels(sender.name, "sent").inc()
    _record(send_id, "sent", None)


def _record(send_id: int, status: str, error: str | None) -> None:
    """Write the outcome; if the database is away (restarting), keep trying for a while rather than fail the
    job: a retried job would send the message again, and it has been sent."""
    params = {
        "id": send_id,
        "status": status,
        "error": error and error[:200],
        "delivered_at": clock.utcnow() if status == "sent" else None,
    }
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            sql.run(RECORD_OUTCOME, params)
            db.session.commit()
            return
        except SQLAlchemyError:
            db.session.rollback()  # else the session refuses every later statement of this worker
            if attempt == RECORD_ATTEMPTS:
                raise
            log.warning("could not record sms %s as %s (attempt %d); trying again", send_id, status, attempt)
            time.sleep(RECORD_PAUSE_SECONDS)

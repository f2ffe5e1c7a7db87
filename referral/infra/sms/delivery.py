"""Delivering one message and recording how it went in ``sms_sends``: the same for every dispatcher."""

from __future__ import annotations

import logging
import time

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from referral import clock
from referral.extensions import db
from referral.infra.models import SmsSend
from referral.infra.sms.senders import SmsGatewayError, SmsSender
from referral.logs import mask_phone

log = logging.getLogger(__name__)
EXTENSION_KEY = "referral.sms"
# Recording an outcome outlasts a database restart: 20 tries a second apart.
RECORD_ATTEMPTS = 20
RECORD_PAUSE_SECONDS = 1.0


def deliver(sender: SmsSender, send_id: int, phone: str, text: str, *, last_attempt: bool) -> None:
    """Hand the message to ``sender``; record ``sent``, or the error (``failed`` if no retry follows).

    Raises ``SmsGatewayError`` again when it is worth a retry, so the dispatcher can schedule one.
    """
    try:
        sender.send(phone, text)
    except SmsGatewayError as error:
        final = last_attempt or not error.retryable
        _record(send_id, "failed" if final else "retrying", str(error))
        log.error("sms to %s failed (%s): %s", mask_phone(phone), "final" if final else "will retry", error)
        if not final:
            raise
        return
    except Exception as error:  # a bug in a sender must not kill the worker, nor vanish
        _record(send_id, "failed", f"{type(error).__name__}: {error}")
        log.exception("sms to %s failed with an unexpected error", mask_phone(phone))
        return
    _record(send_id, "sent", None)


def _record(send_id: int, status: str, error: str | None) -> None:
    """Write the outcome; if the database is away (restarting), keep trying for a while rather than fail the
    job: a retried job would send the message again, and it has been sent."""
    values: dict[str, object] = {
        "status": status,
        "attempts": SmsSend.attempts + 1,
        "last_error": error and error[:200],
    }
    if status == "sent":
        values["delivered_at"] = clock.utcnow()
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            db.session.execute(update(SmsSend).where(SmsSend.id == send_id).values(**values))
            db.session.commit()
            return
        except SQLAlchemyError:
            db.session.rollback()  # else the session refuses every later statement of this worker
            if attempt == RECORD_ATTEMPTS:
                raise
            log.warning("could not record sms %s as %s (attempt %d); trying again", send_id, status, attempt)
            time.sleep(RECORD_PAUSE_SECONDS)

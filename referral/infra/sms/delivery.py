"""Delivering one message and recording how it went in ``sms_sends``: the same for every dispatcher."""

from __future__ import annotations

import logging

from sqlalchemy import update

from referral import clock
from referral.extensions import db
from referral.infra.models import SmsSend
from referral.infra.sms.senders import SmsGatewayError, SmsSender
from referral.logs import mask_phone

log = logging.getLogger(__name__)
EXTENSION_KEY = "referral.sms"


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
    values: dict[str, object] = {
        "status": status,
        "attempts": SmsSend.attempts + 1,
        "last_error": error and error[:200],
    }
    if status == "sent":
        values["delivered_at"] = clock.utcnow()
    db.session.execute(update(SmsSend).where(SmsSend.id == send_id).values(**values))
    db.session.commit()

"""SMS delivery: senders behind one small interface, and a dispatcher that keeps them off the request path.

``send_sms`` is what the domain calls once the code is committed; ``ensure_room`` is asked before, so that a
request the dispatcher cannot take fails whole (503) instead of promising a code that never comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app

from referral.extensions import SMS_DISPATCHER
from referral.infra.sms.dispatch import BackgroundDispatcher, Dispatcher, InlineDispatcher, RqDispatcher, SmsQueueFull
from referral.infra.sms.senders import (
    ConsoleSender,
    ExolveSender,
    MemorySender,
    SmsGatewayError,
    SmsRuSender,
    SmsSender,
    TwilioSender,
)

__all__ = [
    "ConsoleSender",
    "ExolveSender",
    "MemorySender",
    "SmsGatewayError",
    "SmsQueueFull",
    "SmsRuSender",
    "SmsSender",
    "TwilioSender",
    "ensure_room",
    "init_sms",
    "outbox",
    "send_sms",
]


def build_sender(config: Mapping[str, Any]) -> SmsSender:
    backend, timeout = config["SMS_BACKEND"], config["SMS_TIMEOUT_SECONDS"]
    if backend == "memory":
        return MemorySender()
    if backend == "twilio":
        return TwilioSender(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            config["TWILIO_FROM"],
            config["TWILIO_BASE_URL"],
            timeout,
        )
    if backend == "exolve":
        return ExolveSender(config["EXOLVE_API_KEY"], config["EXOLVE_FROM"], config["EXOLVE_BASE_URL"], timeout)
    if backend == "smsru":
        return SmsRuSender(config["SMSRU_API_ID"], config["SMSRU_FROM"], config["SMSRU_BASE_URL"], timeout)
    return ConsoleSender(*config["SMS_DELAY_SECONDS"])


def init_sms(app: Flask) -> None:
    """Build the sender named by ``SMS_BACKEND`` and the dispatcher that fits (see ``dispatch.py``)."""
    sender = build_sender(app.config)
    dispatcher: Dispatcher
    if isinstance(sender, MemorySender):
        dispatcher = InlineDispatcher(sender)
    elif app.config["REDIS_URL"]:
        # A delivery waits SMS_TIMEOUT_SECONDS for the gateway at most; a job running much longer is stuck.
        dispatcher = RqDispatcher(sender, app.config["REDIS_URL"], job_timeout=app.config["SMS_TIMEOUT_SECONDS"] + 20)
    else:
        dispatcher = BackgroundDispatcher(
            app, sender, workers=app.config["SMS_WORKERS"], max_queued=app.config["SMS_QUEUE_SIZE"]
        )
    app.extensions[SMS_DISPATCHER] = dispatcher


def ensure_room() -> None:
    if not current_app.extensions[SMS_DISPATCHER].has_room():
        raise SmsQueueFull


def send_sms(send_id: int, phone: str, text: str) -> None:
    """Queue ``text`` for ``phone``; ``send_id`` is its row in ``sms_sends``, where the outcome is recorded."""
    current_app.extensions[SMS_DISPATCHER].submit(send_id, phone, text)


def outbox(app: Flask) -> list[tuple[str, str]]:
    """The messages the memory sender holds (tests and the development shell)."""
    sender = app.extensions[SMS_DISPATCHER].sender
    if not isinstance(sender, MemorySender):
        raise RuntimeError("only the memory sender keeps an outbox")
    return sender.messages

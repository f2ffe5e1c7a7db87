"""SMS delivery: senders behind one small interface, and a dispatcher that keeps them off the request path.

``send_sms`` is what the domain calls. It hands the message to the app's dispatcher and returns at once; the
dispatcher delivers it in the background (console sender) or inline (memory sender, for tests).
"""

from __future__ import annotations

from flask import Flask, current_app

from referral.sms.dispatch import BackgroundDispatcher, Dispatcher, InlineDispatcher, SmsQueueFull
from referral.sms.senders import ConsoleSender, MemorySender, SmsSender

__all__ = ["ConsoleSender", "MemorySender", "SmsQueueFull", "SmsSender", "init_sms", "send_sms", "outbox"]

EXTENSION_KEY = "referral.sms"


def init_sms(app: Flask) -> None:
    """Build the sender named by ``SMS_BACKEND`` and its dispatcher."""
    backend = app.config["SMS_BACKEND"]
    dispatcher: Dispatcher
    if backend == "memory":
        dispatcher = InlineDispatcher(MemorySender())
    else:
        low, high = app.config["SMS_DELAY_SECONDS"]
        dispatcher = BackgroundDispatcher(ConsoleSender(low, high), max_queued=app.config["SMS_QUEUE_SIZE"])
    app.extensions[EXTENSION_KEY] = dispatcher


def send_sms(phone: str, text: str) -> None:
    """Queue ``text`` for ``phone``; raises ``SmsQueueFull`` when the sender is hopelessly behind."""
    current_app.extensions[EXTENSION_KEY].submit(phone, text)


def outbox(app: Flask) -> list[tuple[str, str]]:
    """The messages the memory sender holds (tests and the development shell)."""
    sender = app.extensions[EXTENSION_KEY].sender
    if not isinstance(sender, MemorySender):
        raise RuntimeError("only the memory sender keeps an outbox")
    return sender.messages

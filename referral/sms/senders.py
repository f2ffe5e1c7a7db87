"""The senders. Each delivers one message or raises; none of them queues."""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Protocol

from referral.phones import mask_phone

log = logging.getLogger(__name__)


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Deliver ``text`` to ``phone`` (E.164) or raise."""


class ConsoleSender:
    """Development: waits like a real gateway (``SMS_DELAY_SECONDS``), then logs the message."""

    def __init__(self, min_delay: float, max_delay: float) -> None:
        self.min_delay = min_delay
        self.max_delay = max_delay

    def send(self, phone: str, text: str) -> None:
        time.sleep(random.uniform(self.min_delay, self.max_delay))
        # Development only: the code is in the text on purpose, so a developer can sign in.
        log.info("sms delivered to %s: %s", mask_phone(phone), text, extra={"phone": phone})


class MemorySender:
    """Tests: keeps every message in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> None:
        with self._lock:
            self.messages.append((phone, text))

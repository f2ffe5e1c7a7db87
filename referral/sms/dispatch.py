"""Dispatchers: how a message gets from the request to a sender."""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from typing import Protocol

from referral.phones import mask_phone
from referral.sms.senders import SmsSender

log = logging.getLogger(__name__)


class SmsQueueFull(Exception):
    """The background sender is too far behind to take another message."""


class Dispatcher(Protocol):
    sender: SmsSender

    def submit(self, phone: str, text: str) -> None: ...


class InlineDispatcher:
    """Delivers before returning: for the memory sender, whose delivery costs nothing."""

    def __init__(self, sender: SmsSender) -> None:
        self.sender = sender

    def submit(self, phone: str, text: str) -> None:
        self.sender.send(phone, text)


class BackgroundDispatcher:
    """A bounded queue drained by one worker thread per process, started on first use (after a fork).

    The queue is bounded so a gateway outage cannot eat the memory of the process; at exit it drains for
    up to ``drain_seconds`` so a restart loses no code that was already promised.
    """

    def __init__(self, sender: SmsSender, max_queued: int = 1000, drain_seconds: float = 10.0) -> None:
        self.sender = sender
        self.drain_seconds = drain_seconds
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=max_queued)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, phone: str, text: str) -> None:
        self._ensure_worker()
        try:
            self._queue.put_nowait((phone, text))
        except queue.Full:
            raise SmsQueueFull from None

    def join(self) -> None:
        """Wait until every queued message has been handed to the sender."""
        self._queue.join()

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="sms-dispatcher", daemon=True)
                self._thread.start()
                atexit.register(self._shutdown)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            phone, text = item
            try:
                self.sender.send(phone, text)
            except Exception:
                log.exception("sms delivery to %s failed", mask_phone(phone))
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _shutdown(self) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=self.drain_seconds)
        except queue.Full:
            log.error("sms queue still full at exit; %d messages dropped", self._queue.qsize())
            return
        thread.join(self.drain_seconds)

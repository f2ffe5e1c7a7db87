"""Dispatchers: how a message gets from the request to a sender, off the request's path.

- ``InlineDispatcher``: delivers at once (the memory sender in tests: delivery costs nothing).
- ``BackgroundDispatcher``: without Redis, worker threads in each app process drain a bounded queue,
  retry with backoff, and drain what is queued at exit.
- ``RqDispatcher``: with ``REDIS_URL``, an RQ queue that ``flask sms worker`` processes drain, retrying
  with backoff; the messages survive an app restart.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from typing import Protocol

from flask import Flask
from redis import Redis, RedisError
from rq import Queue, Retry

from referral.infra import metrics
from referral.infra.sms.delivery import deliver
from referral.infra.sms.senders import SmsGatewayError, SmsSender

log = logging.getLogger(__name__)

Message = tuple[int, str, str]  # sms_sends.id, phone, text


class SmsQueueFull(Exception):
    """The delivery queue cannot take another message now."""


class Dispatcher(Protocol):
    sender: SmsSender

    def has_room(self) -> bool: ...

    def submit(self, send_id: int, phone: str, text: str) -> None: ...

    def shared_depth(self) -> int | None:
        """Messages waiting where every process sees them (Redis); ``None`` for a queue of the process's own,
        which ``referral_sms_queue_depth`` counts instead."""
        ...


class InlineDispatcher:
    def __init__(self, sender: SmsSender) -> None:
        self.sender = sender

    def has_room(self) -> bool:
        return True

    def submit(self, send_id: int, phone: str, text: str) -> None:
        deliver(self.sender, send_id, phone, text, last_attempt=True)

    def shared_depth(self) -> int | None:
        return None


class BackgroundDispatcher:
    """A bounded queue drained by ``workers`` threads per process, started on first use (after a fork).

    The queue is bounded so that a gateway outage cannot eat the memory of the process; the threads let a slow
    gateway (1-2 s a message) keep up with a burst of sign-ins.
    """

    def __init__(
        self,
        app: Flask,
        sender: SmsSender,
        *,
        workers: int = 16,
        max_queued: int = 10_000,
        backoff: tuple[float, ...] = (1.0, 5.0),
        drain_seconds: float = 10.0,
    ) -> None:
        self.app = app
        self.sender = sender
        self.workers = workers
        self.backoff = backoff
        self.drain_seconds = drain_seconds
        self._queue: queue.Queue[Message | None] = queue.Queue(maxsize=max_queued)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def has_room(self) -> bool:
        return not self._queue.full()

    def submit(self, send_id: int, phone: str, text: str) -> None:
        self._ensure_workers()
        try:
            self._queue.put_nowait((send_id, phone, text))
        except queue.Full:
            raise SmsQueueFull from None
        metrics.SMS_QUEUED.inc()

    def shared_depth(self) -> int | None:
        return None

    def join(self) -> None:
        """Wait until every queued message has been delivered or given up on."""
        self._queue.join()

    def _ensure_workers(self) -> None:
        with self._lock:
            if any(thread.is_alive() for thread in self._threads):
                return
            self._threads = [
                threading.Thread(target=self._work, name=f"sms-{n}", daemon=True) for n in range(self.workers)
            ]
            for thread in self._threads:
                thread.start()
            atexit.register(self._shutdown)

    def _work(self) -> None:
        while (message := self._queue.get()) is not None:
            try:
                self._deliver_with_retries(*message)
            finally:
                metrics.SMS_QUEUED.dec()
                self._queue.task_done()
        self._queue.task_done()

    def _deliver_with_retries(self, send_id: int, phone: str, text: str) -> None:
        attempts = len(self.backoff) + 1
        for attempt in range(attempts):
            try:
                with self.app.app_context():
                    deliver(self.sender, send_id, phone, text, last_attempt=attempt == attempts - 1)
                return
            except SmsGatewayError:
                time.sleep(self.backoff[attempt])
            except Exception:  # recording the outcome failed (database down): keep the worker alive
                log.exception("could not record an sms delivery")
                return

    def _shutdown(self) -> None:
        alive = [thread for thread in self._threads if thread.is_alive()]
        deadline = time.monotonic() + self.drain_seconds
        for _ in alive:
            try:
                self._queue.put(None, timeout=max(0.1, deadline - time.monotonic()))
            except queue.Full:
                log.error("sms queue still full at exit; %d messages not delivered", self._queue.qsize())
                return
        for thread in alive:
            thread.join(max(0.1, deadline - time.monotonic()))


class RqDispatcher:
    """Messages go to Redis; ``flask sms worker`` processes deliver them (``rq_deliver``)."""

    QUEUE_NAME = "sms"

    def __init__(
        self, sender: SmsSender, redis_url: str, backoff: tuple[int, ...] = (5, 30, 120), job_timeout: int = 60
    ) -> None:
        self.sender = sender
        self.job_timeout = job_timeout  # a delivery longer than this is killed and retried
        self.connection = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.queue = Queue(self.QUEUE_NAME, connection=self.connection)
        self.backoff = backoff

    def has_room(self) -> bool:
        return True  # Redis holds what the workers have not taken yet; a dead Redis shows at submit

    def shared_depth(self) -> int | None:
        return int(self.queue.count)

    def submit(self, send_id: int, phone: str, text: str) -> None:
        try:
            self.queue.enqueue(
                "referral.infra.sms.jobs.rq_deliver",
                send_id,
                phone,
                text,
                retry=Retry(max=len(self.backoff), interval=list(self.backoff)),
                result_ttl=0,  # the text holds a code: keep nothing once it is delivered
                failure_ttl=86_400,
                job_timeout=self.job_timeout,
            )
        except RedisError as error:
            raise SmsQueueFull(f"redis: {error}") from None

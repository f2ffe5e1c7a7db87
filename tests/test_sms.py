"""SMS delivery never blocks the request; failures are logged, not lost silently."""

import logging
import threading
import time

import pytest

from referral.sms import ConsoleSender, SmsQueueFull
from referral.sms.dispatch import BackgroundDispatcher


class SlowSender:
    def __init__(self, seconds):
        self.seconds = seconds
        self.delivered = []

    def send(self, phone, text):
        time.sleep(self.seconds)
        self.delivered.append((phone, text))


def test_submitting_returns_at_once_while_the_gateway_is_slow():
    sender = SlowSender(0.5)
    dispatcher = BackgroundDispatcher(sender)
    started = time.perf_counter()
    dispatcher.submit("+79991234567", "1234 is your code")
    assert time.perf_counter() - started < 0.1
    assert sender.delivered == []
    dispatcher.join()
    assert sender.delivered == [("+79991234567", "1234 is your code")]


def test_a_full_queue_refuses_instead_of_growing():
    gate = threading.Event()

    class Stuck:
        def send(self, phone, text):
            gate.wait(5)

    dispatcher = BackgroundDispatcher(Stuck(), max_queued=2)
    dispatcher.submit("+79990000001", "a")  # taken by the worker
    time.sleep(0.05)
    dispatcher.submit("+79990000002", "b")
    dispatcher.submit("+79990000003", "c")
    with pytest.raises(SmsQueueFull):
        dispatcher.submit("+79990000004", "d")
    gate.set()
    dispatcher.join()


def test_a_failed_delivery_is_logged_and_the_worker_goes_on(caplog):
    class Flaky:
        def __init__(self):
            self.calls = 0

        def send(self, phone, text):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("gateway down")

    sender = Flaky()
    dispatcher = BackgroundDispatcher(sender)
    with caplog.at_level(logging.ERROR):
        dispatcher.submit("+79991234567", "one")
        dispatcher.submit("+79991234567", "two")
        dispatcher.join()
    assert sender.calls == 2
    assert "sms delivery to +7999***4567 failed" in caplog.text


def test_the_console_sender_logs_after_its_simulated_delay(caplog):
    sender = ConsoleSender(0.05, 0.1)
    started = time.perf_counter()
    with caplog.at_level(logging.INFO):
        sender.send("+79991234567", "1234 is your code")
    assert time.perf_counter() - started >= 0.05
    assert "1234 is your code" in caplog.text


def test_the_console_backend_answers_the_request_before_the_delay(app, client, monkeypatch):
    from referral.sms import init_sms

    app.config.update(SMS_BACKEND="console", SMS_DELAY_SECONDS=(0.5, 0.5))
    init_sms(app)
    try:
        started = time.perf_counter()
        response = client.post("/api/v1/auth/code", json={"phone": "+79991234567"})
        assert response.status_code == 202
        assert time.perf_counter() - started < 0.3
        app.extensions["referral.sms"].join()  # delivered before the test ends, not during interpreter exit
        assert time.perf_counter() - started >= 0.5
    finally:
        app.config.update(SMS_BACKEND="memory", SMS_DELAY_SECONDS=(0.0, 0.0))
        init_sms(app)

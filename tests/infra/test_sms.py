"""SMS delivery never blocks the request, retries what is worth retrying, and records every outcome."""

import logging
import threading
import time

import pytest
from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import SmsSend
from referral.infra.sms import ConsoleSender, MemorySender, SmsGatewayError, SmsQueueFull, init_sms
from referral.infra.sms.dispatch import BackgroundDispatcher

PHONE = "+79991234567"


def new_send() -> int:
    send = SmsSend(phone=PHONE, purpose="login")
    db.session.add(send)
    db.session.flush()
    send_id = send.id
    db.session.commit()  # and hold no transaction open: on SQLite it would lock the workers out
    return send_id


def status_of(send_id):
    try:
        send = db.session.get(SmsSend, send_id, populate_existing=True)
        return send.status, send.attempts, send.last_error
    finally:
        db.session.rollback()


class SlowSender(MemorySender):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def send(self, phone, text):
        time.sleep(self.seconds)
        super().send(phone, text)


class FailingSender(MemorySender):
    def __init__(self, failures, retryable=True):
        super().__init__()
        self.failures = failures
        self.retryable = retryable
        self.calls = 0

    def send(self, phone, text):
        self.calls += 1
        if self.calls <= self.failures:
            raise SmsGatewayError("gateway answered 503", retryable=self.retryable)
        super().send(phone, text)


@pytest.mark.committing
def test_submitting_returns_at_once_while_the_gateway_is_slow(app):
    sender = SlowSender(0.5)
    dispatcher = BackgroundDispatcher(app, sender, workers=2)
    send_id = new_send()
    started = time.perf_counter()
    dispatcher.submit(send_id, PHONE, "1234 is your code")
    assert time.perf_counter() - started < 0.1
    assert sender.messages == []
    dispatcher.join()
    assert sender.messages == [(PHONE, "1234 is your code")]
    assert status_of(send_id)[:2] == ("sent", 1)


@pytest.mark.committing
def test_many_slow_messages_are_delivered_side_by_side(app):
    sender = SlowSender(0.3)
    dispatcher = BackgroundDispatcher(app, sender, workers=8)
    started = time.perf_counter()
    for _ in range(8):
        dispatcher.submit(new_send(), PHONE, "code")
    dispatcher.join()
    assert len(sender.messages) == 8
    assert time.perf_counter() - started < 1.5  # not 8 x 0.3 s one after another


@pytest.mark.committing
def test_a_gateway_error_is_retried_with_backoff_and_then_delivered(app):
    sender = FailingSender(failures=1)
    dispatcher = BackgroundDispatcher(app, sender, workers=1, backoff=(0.05, 0.05))
    send_id = new_send()
    dispatcher.submit(send_id, PHONE, "code")
    dispatcher.join()
    assert sender.calls == 2
    assert status_of(send_id) == ("sent", 2, None)


@pytest.mark.committing
def test_a_delivery_that_keeps_failing_ends_failed_and_logged(app, caplog):
    sender = FailingSender(failures=10)
    dispatcher = BackgroundDispatcher(app, sender, workers=1, backoff=(0.01, 0.01))
    send_id = new_send()
    with caplog.at_level(logging.ERROR):
        dispatcher.submit(send_id, PHONE, "code")
        dispatcher.join()
    assert sender.calls == 3
    assert status_of(send_id) == ("failed", 3, "gateway answered 503")
    assert "sms to +7999***4567 failed (final)" in caplog.text


@pytest.mark.committing
def test_a_refusal_is_not_retried(app):
    sender = FailingSender(failures=10, retryable=False)
    dispatcher = BackgroundDispatcher(app, sender, workers=1, backoff=(0.01, 0.01))
    send_id = new_send()
    dispatcher.submit(send_id, PHONE, "code")
    dispatcher.join()
    assert sender.calls == 1
    assert status_of(send_id)[0] == "failed"


def test_a_full_queue_refuses_instead_of_growing(app):
    gate = threading.Event()

    class Stuck(MemorySender):
        def send(self, phone, text):
            gate.wait(5)

    dispatcher = BackgroundDispatcher(app, Stuck(), workers=1, max_queued=2)
    dispatcher.submit(0, PHONE, "a")  # taken by the worker, which then waits
    time.sleep(0.1)
    dispatcher.submit(0, PHONE, "b")
    dispatcher.submit(0, PHONE, "c")
    assert not dispatcher.has_room()
    with pytest.raises(SmsQueueFull):
        dispatcher.submit(0, PHONE, "d")
    gate.set()
    dispatcher.join()


def test_the_console_sender_logs_after_its_simulated_delay(caplog):
    sender = ConsoleSender(0.05, 0.1)
    started = time.perf_counter()
    with caplog.at_level(logging.INFO):
        sender.send(PHONE, "1234 is your code")
    assert time.perf_counter() - started >= 0.05
    assert "1234 is your code" in caplog.text


@pytest.mark.committing
def test_the_console_backend_answers_the_request_before_the_delay(app, client):
    app.config.update(SMS_BACKEND="console", SMS_DELAY_SECONDS=(0.5, 0.5))
    init_sms(app)
    try:
        started = time.perf_counter()
        response = client.post("/api/v1/auth/code", json={"phone": PHONE})
        assert response.status_code == 202
        assert time.perf_counter() - started < 0.3
        app.extensions["referral.sms"].join()  # delivered before the test ends, not during interpreter exit
        assert time.perf_counter() - started >= 0.5
        assert db.session.scalars(select(SmsSend.status)).one() == "sent"
    finally:
        app.config.update(SMS_BACKEND="memory", SMS_DELAY_SECONDS=(0.0, 0.0))
        init_sms(app)


@pytest.mark.committing
def test_at_exit_the_queue_is_drained_before_the_process_ends(app):
    sender = SlowSender(0.1)
    dispatcher = BackgroundDispatcher(app, sender, workers=2, drain_seconds=5)
    for _ in range(6):
        dispatcher.submit(new_send(), PHONE, "code")
    dispatcher._shutdown()  # what atexit runs
    assert len(sender.messages) == 6
    assert not any(thread.is_alive() for thread in dispatcher._threads)


def test_a_sent_message_whose_outcome_cannot_be_recorded_yet_is_recorded_later_and_not_sent_again(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from referral.infra.sms import delivery

    send_id = new_send()
    sender = MemorySender()
    real_execute = db.session.execute
    failures = []

    def database_restarting(statement, *args, **kwargs):
        if len(failures) < 2:
            failures.append(statement)
            raise OperationalError("UPDATE sms_sends", {}, Exception("the database is restarting"))
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(delivery, "RECORD_PAUSE_SECONDS", 0)
    monkeypatch.setattr(db.session, "execute", database_restarting)
    delivery.deliver(sender, send_id, PHONE, "1234 is your code", last_attempt=False)
    monkeypatch.setattr(db.session, "execute", real_execute)
    assert len(sender.messages) == 1  # sent once, although recording it failed twice
    assert status_of(send_id)[:2] == ("sent", 1)

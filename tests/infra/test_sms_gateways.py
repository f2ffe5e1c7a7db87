"""Twilio, SMS.ru and Exolve senders over real HTTP against a fake gateway on loopback; the RQ queue and its worker."""

import time
import uuid

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import SmsSend
from referral.infra.sms import ExolveSender, MemorySender, SmsGatewayError, SmsRuSender, TwilioSender, init_sms
from referral.infra.sms.dispatch import RqDispatcher
from tests.fake_gateway import serve_fake_gateway

PHONE = "+79991234567"


@pytest.fixture
def gateway():
    gateway, server = serve_fake_gateway()
    yield gateway
    server.shutdown()


def twilio(gateway, timeout=1, sender="+15005550006"):
    return TwilioSender("AC123", "secret-token", sender, gateway.url, timeout)


def smsru(gateway, timeout=1):
    return SmsRuSender("api-id-123", "referral", gateway.url, timeout)


class TestTwilio:
    def test_a_message_is_posted_as_the_messages_api_wants_it(self, gateway):
        twilio(gateway).send(PHONE, "1234 is your code")
        (request,) = gateway.received
        assert request["sid"] == "AC123" and request["auth"] == "AC123"
        assert request["form"] == {"To": PHONE, "Body": "1234 is your code", "From": "+15005550006"}

    def test_a_messaging_service_sid_is_sent_as_such(self, gateway):
        twilio(gateway, sender="MG0123").send(PHONE, "hi")
        assert gateway.received[0]["form"]["MessagingServiceSid"] == "MG0123"

    def test_a_refusal_is_an_error_not_worth_retrying(self, gateway):
        gateway.mode = "refuse"
        with pytest.raises(SmsGatewayError, match="21211") as error:
            twilio(gateway).send(PHONE, "hi")
        assert error.value.retryable is False

    def test_a_server_error_is_worth_retrying(self, gateway):
        gateway.mode = "crash"
        with pytest.raises(SmsGatewayError, match="500") as error:
            twilio(gateway).send(PHONE, "hi")
        assert error.value.retryable is True

    def test_a_gateway_that_hangs_times_out(self, gateway):
        gateway.mode = "slow"
        started = time.perf_counter()
        with pytest.raises(SmsGatewayError, match="timed out") as error:
            twilio(gateway, timeout=0.3).send(PHONE, "hi")
        assert time.perf_counter() - started < 1.5
        assert error.value.retryable is True

    def test_a_gateway_that_is_not_there_is_worth_retrying(self):
        sender = TwilioSender("AC1", "t", "+15005550006", "http://127.0.0.1:9", 1)
        with pytest.raises(SmsGatewayError, match="unreachable") as error:
            sender.send(PHONE, "hi")
        assert error.value.retryable is True


class TestSmsRu:
    def test_a_message_is_posted_with_the_api_id(self, gateway):
        smsru(gateway).send(PHONE, "1234 is your code")
        (request,) = gateway.received
        assert request["form"] == {
            "api_id": "api-id-123",
            "to": "79991234567",
            "msg": "1234 is your code",
            "json": "1",
            "from": "referral",
        }

    def test_an_error_status_is_a_refusal(self, gateway):
        gateway.mode = "refuse"
        with pytest.raises(SmsGatewayError, match="207") as error:
            smsru(gateway).send(PHONE, "hi")
        assert error.value.retryable is False

    def test_a_server_error_is_worth_retrying(self, gateway):
        gateway.mode = "crash"
        with pytest.raises(SmsGatewayError) as error:
            smsru(gateway).send(PHONE, "hi")
        assert error.value.retryable is True

    def test_a_gateway_that_hangs_times_out(self, gateway):
        gateway.mode = "slow"
        with pytest.raises(SmsGatewayError, match="timed out"):
            smsru(gateway, timeout=0.3).send(PHONE, "hi")


def exolve(gateway, timeout=1):
    return ExolveSender("exolve-api-key", "+79990001122", gateway.url, timeout)


class TestExolve:
    def test_a_message_is_posted_with_the_api_key_as_a_bearer_token(self, gateway):
        exolve(gateway).send(PHONE, "1234 is your code")
        (request,) = gateway.received
        assert request["auth"] == "Bearer exolve-api-key"
        assert request["json"] == {"number": "79990001122", "destination": "79991234567", "text": "1234 is your code"}

    def test_a_refusal_is_an_error_not_worth_retrying(self, gateway):
        gateway.mode = "refuse"
        with pytest.raises(SmsGatewayError, match="not a valid number") as error:
            exolve(gateway).send(PHONE, "hi")
        assert error.value.retryable is False

    def test_a_server_error_is_worth_retrying(self, gateway):
        gateway.mode = "crash"
        with pytest.raises(SmsGatewayError, match="500") as error:
            exolve(gateway).send(PHONE, "hi")
        assert error.value.retryable is True

    def test_a_gateway_that_hangs_times_out(self, gateway):
        gateway.mode = "slow"
        started = time.perf_counter()
        with pytest.raises(SmsGatewayError, match="timed out") as error:
            exolve(gateway, timeout=0.3).send(PHONE, "hi")
        assert time.perf_counter() - started < 1.5
        assert error.value.retryable is True

    def test_a_gateway_that_is_not_there_is_worth_retrying(self):
        with pytest.raises(SmsGatewayError, match="unreachable") as error:
            ExolveSender("k", "79990001122", "http://127.0.0.1:9", 1).send(PHONE, "hi")
        assert error.value.retryable is True


@pytest.mark.committing
def test_sign_in_codes_reach_the_gateway_end_to_end(app, client, gateway):
    app.config.update(
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID="AC999",
        TWILIO_AUTH_TOKEN="t",
        TWILIO_FROM="+15005550006",
        TWILIO_BASE_URL=gateway.url,
    )
    init_sms(app)
    try:
        code = client.post("/api/v1/auth/code", json={"phone": PHONE}).json["debug_code"]
        app.extensions["referral.sms"].join()
        assert gateway.received[0]["form"]["To"] == PHONE
        assert code in gateway.received[0]["form"]["Body"]
        assert db.session.scalars(select(SmsSend.status)).one() == "sent"
    finally:
        app.config.update(SMS_BACKEND="memory")
        init_sms(app)


@pytest.fixture
def rq_dispatcher(app, monkeypatch, redis_url):
    monkeypatch.setattr(RqDispatcher, "QUEUE_NAME", f"sms-test-{uuid.uuid4().hex}")
    dispatcher = RqDispatcher(MemorySender(), redis_url, backoff=(0, 0))
    previous = app.extensions["referral.sms"]
    app.extensions["referral.sms"] = dispatcher
    yield dispatcher
    app.extensions["referral.sms"] = previous
    dispatcher.queue.delete(delete_jobs=True)
    dispatcher.queue.failed_job_registry.cleanup()


def run_worker(dispatcher):
    SimpleWorker([dispatcher.queue], connection=dispatcher.connection).work(burst=True)


@pytest.mark.committing
def test_with_redis_codes_go_through_the_rq_queue_to_a_worker(app, client, rq_dispatcher):
    code = client.post("/api/v1/auth/code", json={"phone": PHONE}).json["debug_code"]
    assert rq_dispatcher.queue.count == 1
    assert rq_dispatcher.sender.messages == []  # nothing delivered inside the request
    run_worker(rq_dispatcher)
    assert rq_dispatcher.sender.messages[0][0] == PHONE
    assert code in rq_dispatcher.sender.messages[0][1]
    assert db.session.scalars(select(SmsSend.status)).one() == "sent"


@pytest.mark.committing
def test_the_rq_worker_retries_and_then_records_the_failure(app, client, rq_dispatcher, runner):
    calls = []

    def down(phone, text):
        calls.append(phone)
        raise SmsGatewayError("gateway answered 503", retryable=True)

    rq_dispatcher.sender.send = down
    client.post("/api/v1/auth/code", json={"phone": PHONE})
    for _ in range(3):
        run_worker(rq_dispatcher)
    assert len(calls) == 3  # the first try and two retries
    send = db.session.scalars(select(SmsSend)).one()
    assert (send.status, send.attempts) == ("failed", 3)
    status = runner.invoke(args=["sms", "status"])
    assert "failed 1" in status.output
    assert "+7999***4567 failed after 3 attempt(s): gateway answered 503" in status.output
    assert "waiting" in status.output


@pytest.mark.committing
def test_flask_sms_worker_burst_drains_the_queue(app, client, rq_dispatcher, runner):
    client.post("/api/v1/auth/code", json={"phone": PHONE})
    result = runner.invoke(args=["sms", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert len(rq_dispatcher.sender.messages) == 1


def test_flask_sms_worker_explains_itself_without_redis(runner):
    result = runner.invoke(args=["sms", "worker", "--burst"])
    assert result.exit_code != 0
    assert "without REDIS_URL" in result.output


def test_sms_status_counts_by_status(api, runner):
    api.request_code(PHONE)
    result = runner.invoke(args=["sms", "status"])
    assert result.exit_code == 0
    assert "last 24 h: queued 0, retrying 0, sent 1, failed 0" in result.output  # in the order a send moves

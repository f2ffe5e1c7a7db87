"""``flask webhooks``: worker, status, list, replay, enable and a signed test ping, through the CLI runner."""

from sqlalchemy import func, select

from referral.extensions import db
from referral.infra.models import WebhookDelivery, WebhookEvent


def test_the_worker_in_burst_mode_delivers_what_is_due_and_status_counts_it(runner, api, receiver):
    api.sign_in("+79990000001")
    assert runner.invoke(args=["webhooks", "worker", "--burst"]).exit_code == 0
    assert [payload["type"] for payload in receiver.verified] == ["user.created"]
    result = runner.invoke(args=["webhooks", "status"])
    assert f"{receiver.url}: pending 0, delivered 1, failed 0, disabled 0" in result.output


def test_list_failed_shows_what_gave_up_and_enable_brings_a_gone_endpoint_back(runner, api, receiver):
    receiver.mode = "gone"
    api.sign_in("+79990000001")
    runner.invoke(args=["webhooks", "worker", "--burst"])
    listed = runner.invoke(args=["webhooks", "list", "--failed"])
    assert "user.created" in listed.output and "disabled" in listed.output and "410" in listed.output
    assert "(410 Gone)" in runner.invoke(args=["webhooks", "status"]).output
    assert runner.invoke(args=["webhooks", "enable", receiver.url]).exit_code == 0
    assert runner.invoke(args=["webhooks", "enable", receiver.url]).exit_code != 0


def test_replay_sends_an_event_again_with_the_same_id(runner, api, receiver):
    api.sign_in("+79990000001")
    runner.invoke(args=["webhooks", "worker", "--burst"])
    event_id = db.session.scalar(select(WebhookEvent.id))
    result = runner.invoke(args=["webhooks", "replay", event_id])
    assert result.exit_code == 0, result.output
    runner.invoke(args=["webhooks", "worker", "--burst"])
    assert [headers["Webhook-Id"] for headers in receiver.headers] == [event_id, event_id]
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2
    assert runner.invoke(args=["webhooks", "replay", "evt_nope"]).exit_code != 0


def test_test_sends_a_signed_ping_and_says_what_came_back(runner, receiver):
    result = runner.invoke(args=["webhooks", "test", receiver.url])
    assert result.exit_code == 0, result.output
    assert "answered 204" in result.output
    assert receiver.verified[0]["type"] == "webhook.test"
    receiver.mode = "crash"
    failed = runner.invoke(args=["webhooks", "test", receiver.url])
    assert failed.exit_code != 0 and "answered 500" in failed.output

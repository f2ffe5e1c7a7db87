"""Webhook delivery (``infra/webhooks.py``): signed as Standard Webhooks, retried until acknowledged, 410 stops,
claims never shared between workers, a worker that dies leaves its deliveries to the next one."""

import base64
import json
import threading

import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from config import WEBHOOK_EVENT_TYPES as ALL_TYPES
from referral.extensions import db
from referral.infra import webhooks
from referral.infra.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from tests.webhook_receiver import TEST_SECRET as SECRET

OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()


def deliver(app) -> int:
    return webhooks.deliver_due(app.config)


def delivery_of(event_id: str) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)).one()


def test_two_sign_ups_with_an_invite_reach_the_receiver_verified(app, api, receiver):
    anna = api.sign_in("+79990000001")
    boris = api.sign_in("+79990000002", invite_code=anna["user"]["invite_code"])
    assert deliver(app) == 4
    types = [payload["type"] for payload in receiver.verified]
    # referrals qualify at once by default: the activation and the qualification are each announced
    assert sorted(types) == ["referral.activated", "referral.qualified", "user.created", "user.created"]
    activated = next(payload for payload in receiver.verified if payload["type"] == "referral.activated")
    assert activated["data"]["invitee"] == {"id": boris["user"]["id"], "phone": "+79990000002"}
    assert activated["data"]["inviter"]["invite_code"] == anna["user"]["invite_code"]
    created = next(
        p for p in receiver.verified if p["type"] == "user.created" and p["data"]["user"]["id"] == boris["user"]["id"]
    )
    assert created["data"]["inviter"]["id"] == anna["user"]["id"]
    assert set(created) == {"type", "timestamp", "data"}


def test_a_receiver_with_the_wrong_secret_cannot_verify_a_delivery(app, api, receiver):
    api.sign_in("+79990000001")
    deliver(app)
    headers, payload = receiver.headers[0], json.dumps(receiver.verified[0])
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"w" * 32).decode()).verify(payload, headers)


def test_during_a_rotation_every_configured_secret_signs(app, api, receiver):
    app.config["WEBHOOK_SECRET"] = [SECRET, OLD_SECRET]
    api.sign_in("+79990000001")
    deliver(app)
    assert len(receiver.headers[0]["Webhook-Signature"].split(" ")) == 2
    assert receiver.verified  # the new secret verifies; the old one would too (two v1 signatures)


@pytest.mark.parametrize("fault", ["crash", "slow", "refused", "redirect"])
def test_a_failed_attempt_is_retried_later_and_delivered_once_the_receiver_recovers(app, api, receiver, clock, fault):
    api.sign_in("+79990000001")
    event_id = db.session.scalar(select(WebhookEvent.id))
    url = receiver.url
    if fault == "refused":
        app.config["WEBHOOK_URLS"] = [("http://127.0.0.1:9/hook", ALL_TYPES)]
        db.session.execute(update(WebhookDelivery).values(url="http://127.0.0.1:9/hook"))
    else:
        receiver.mode = fault
    assert deliver(app) == 1
    first = delivery_of(event_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.next_attempt_at > clock.now  # not due again at once
    assert deliver(app) == 0

    receiver.mode = "ok"
    db.session.execute(update(WebhookDelivery).values(url=url))
    clock.advance(seconds=webhooks.RETRY_SCHEDULE[0] * 1.3)
    assert deliver(app) == 1
    done = delivery_of(event_id)
    assert (done.status, done.attempts) == ("delivered", 2)
    assert [payload["type"] for payload in receiver.verified] == ["user.created"]
    attempts = db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [attempt.status_code for attempt in attempts][-1] == 204
    assert attempts[0].error or attempts[0].status_code in (500, 302)


def test_the_schedule_gives_up_after_about_a_day(app, api, receiver, clock):
    receiver.mode = "crash"
    api.sign_in("+79990000001")
    event_id = db.session.scalar(select(WebhookEvent.id))
    for _ in range(len(webhooks.RETRY_SCHEDULE) + 1):
        deliver(app)
        clock.advance(hours=13)  # past the longest wait with its jitter
    failed = delivery_of(event_id)
    assert (failed.status, failed.attempts) == ("failed", len(webhooks.RETRY_SCHEDULE) + 1)
    assert 20 * 3600 < sum(webhooks.RETRY_SCHEDULE) < 30 * 3600


def test_a_410_disables_the_endpoint_and_stops_its_deliveries(app, api, receiver, clock):
    receiver.mode = "gone"
    api.sign_in("+79990000001")
    assert deliver(app) == 1
    api.sign_in("+79990000002")  # emitted after the endpoint said it is gone
    receiver.mode = "ok"
    clock.advance(days=2)
    deliver(app)
    assert receiver.verified == []
    db.session.expire_all()
    assert set(db.session.scalars(select(WebhookDelivery.status))) == {"disabled"}


def test_an_endpoint_only_gets_the_types_it_asked_for(app, api, receiver):
    app.config["WEBHOOK_URLS"] = [(receiver.url, ("referral.activated",))]
    anna = api.sign_in("+79990000001")
    api.sign_in("+79990000002", invite_code=anna["user"]["invite_code"])
    deliver(app)
    assert [payload["type"] for payload in receiver.verified] == ["referral.activated"]


def test_loopback_and_private_addresses_are_refused_where_not_allowed(app, api, receiver):
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    api.sign_in("+79990000001")
    deliver(app)
    assert receiver.headers == []
    attempt = db.session.scalars(select(WebhookAttempt)).one()
    assert "may not reach" in attempt.error
    for url in ("http://10.0.0.5/x", "http://169.254.169.254/latest", "http://[::1]/x", "http://192.168.1.1/"):
        with pytest.raises(webhooks.UnsafeDestination):
            webhooks.check_destination(url)


def test_a_worker_that_dies_after_claiming_leaves_the_delivery_to_a_later_one(app, api, receiver, clock):
    api.sign_in("+79990000001")
    (claimed,) = webhooks.claim_due()  # ... and the worker is killed before it sends anything
    assert webhooks.claim_due() == []  # nobody else takes it while the lease runs
    clock.advance(seconds=webhooks.LEASE_SECONDS + 1)
    assert deliver(app) == 1
    assert [payload["type"] for payload in receiver.verified] == ["user.created"]
    assert receiver.headers[0]["Webhook-Id"] == claimed.event_id  # the same id: a receiver can deduplicate


@pytest.mark.committing
def test_two_workers_claiming_at_once_never_take_the_same_delivery(app, receiver, postgres_only):
    from referral.domain import events

    for n in range(40):
        events.emit("user.created", {"user": {"id": n}})
    db.session.commit()
    barrier = threading.Barrier(2)
    taken: list[list[int]] = [[], []]

    def work(index: int) -> None:
        with app.app_context():
            barrier.wait()
            while claimed := webhooks.claim_due(limit=3):
                taken[index].extend(item.id for item in claimed)
            db.session.remove()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(taken[0]) + len(taken[1]) == 40
    assert not set(taken[0]) & set(taken[1])
    assert taken[0] and taken[1]  # both really worked


def test_nothing_is_written_while_no_endpoint_is_configured(app, api):
    app.config["WEBHOOK_URLS"] = []
    api.sign_in("+79990000001")
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0

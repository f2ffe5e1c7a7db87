"""``flask maintenance purge``: every kind of row that grows with traffic goes once its time is past, a batch
per transaction, and nothing still in use goes with it."""

from datetime import timedelta

from sqlalchemy import func, select

from referral import clock as clock_module
from referral.extensions import db
from referral.infra.models import (
    ConsoleSession,
    LoginCode,
    PhoneLockout,
    SmsSend,
    Staff,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def purge(runner, *args):
    result = runner.invoke(args=["maintenance", "purge", *args])
    assert result.exit_code == 0, result.output
    return result.output


def event(name, created_at, *deliveries):
    """An event and its deliveries, each (status, last attempt's time), each with two attempts."""
    db.session.add(WebhookEvent(id=name, type="referral.activated", payload="{}", created_at=created_at))
    for status, at in deliveries:
        delivery = WebhookDelivery(
            event_id=name, url="https://example.com/hook", status=status, next_attempt_at=at, created_at=created_at
        )
        db.session.add(delivery)
        db.session.flush()
        db.session.add_all(WebhookAttempt(delivery_id=delivery.id, attempted_at=at, latency_ms=5) for _ in range(2))
    db.session.commit()


def test_sms_records_go_after_a_week(runner, clock):
    now = clock_module.utcnow()
    db.session.add_all(
        SmsSend(phone="+79990000001", purpose="login", sent_at=now - timedelta(days=days), status="sent")
        for days in (8, 7.5, 6, 0)
    )
    db.session.commit()
    assert "2 SMS records" in purge(runner)
    assert count(SmsSend) == 2


def test_finished_webhook_deliveries_go_after_the_retention_with_their_attempts_and_events(runner, clock):
    now = clock_module.utcnow()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    event("evt_old_delivered", old, ("delivered", old), ("failed", old))
    event("evt_old_but_pending", old, ("pending", old))  # still being retried: stays, and so does its event
    event("evt_recent", recent, ("delivered", recent))
    event("evt_old_unsubscribed", old)  # no endpoint wanted it
    output = purge(runner)
    assert "2 webhook deliveries, 2 webhook events" in output
    assert set(db.session.scalars(select(WebhookEvent.id))) == {"evt_old_but_pending", "evt_recent"}
    assert count(WebhookDelivery) == 2
    assert count(WebhookAttempt) == 4  # the two deliveries left, two attempts each


def test_webhook_retention_is_a_setting(runner, app, clock):
    now = clock_module.utcnow()
    event("evt_a", now - timedelta(days=3), ("delivered", now - timedelta(days=3)))
    app.config["WEBHOOK_RETENTION_DAYS"] = 2
    assert "1 webhook deliveries, 1 webhook events" in purge(runner)


def test_a_phone_lockout_goes_once_it_holds_nothing(runner, clock):
    now = clock_module.utcnow()
    db.session.add_all(
        [
            PhoneLockout(phone="+79990000001", failures=0, locked_until=None),  # signed in since: nothing left
            PhoneLockout(phone="+79990000002", failures=0, locked_until=now - timedelta(minutes=1)),  # served
            PhoneLockout(phone="+79990000003", failures=0, locked_until=now + timedelta(minutes=5)),  # locked now
            PhoneLockout(phone="+79990000004", failures=3, locked_until=None),  # a run of wrong codes goes on
        ]
    )
    db.session.commit()
    assert "2 phone lockouts" in purge(runner)
    assert set(db.session.scalars(select(PhoneLockout.phone))) == {"+79990000003", "+79990000004"}


def test_idle_console_sessions_go(runner, app, api, clock):
    user = api.sign_in("+79990000001")["user"]
    db.session.add(Staff(user_id=user["id"], role="admin", totp_secret="A" * 32))
    db.session.commit()
    now = clock_module.utcnow()
    idle = timedelta(seconds=app.config["CONSOLE_IDLE_SECONDS"])
    db.session.add_all(
        [
            ConsoleSession(id="a" * 64, staff_id=user["id"], created_at=now - idle * 2, last_seen_at=now - idle * 2),
            ConsoleSession(id="b" * 64, staff_id=user["id"], created_at=now, last_seen_at=now),
        ]
    )
    db.session.commit()
    assert "1 console sessions" in purge(runner)
    assert list(db.session.scalars(select(ConsoleSession.id))) == ["b" * 64]


def test_the_purge_goes_a_batch_at_a_time_until_nothing_is_left(runner, api, clock):
    for n in range(5):
        api.request_code(f"+7999000000{n}")
    clock.advance(seconds=301)
    assert "purged 5 login codes" in purge(runner, "--batch", "2", "--pause", "0")
    assert count(LoginCode) == 0


def test_every_runs_it_again_after_the_pause(runner, worker_loop, api, clock):
    pauses = worker_loop(2)
    api.request_code("+79990000001")
    clock.advance(seconds=301)
    result = runner.invoke(args=["maintenance", "purge", "--every", "3600"])
    assert pauses == [3600, 3600]
    assert result.output.count("purged 1 login codes") == 1  # the first run; the second found nothing
    assert result.output.count("purged 0 login codes") == 1


def test_every_is_at_least_a_minute(runner):
    result = runner.invoke(args=["maintenance", "purge", "--every", "5"])
    assert result.exit_code == 2
    assert "--every" in result.output

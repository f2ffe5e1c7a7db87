"""The console's deliveries page: SMS by hour and by number range, failures, and webhook replays."""

from __future__ import annotations

from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import SmsSend, WebhookDelivery, WebhookEvent
from tests.console.test_console import actions, audit_count, support_agent  # noqa: F401  (fixtures)


def test_sms_by_range_and_the_latest_failures(support_agent, api):  # noqa: F811
    api.request_code("+79995570001")
    api.request_code("+79995570002")
    db.session.execute(
        SmsSend.__table__.update()
        .where(SmsSend.phone == "+79995570002")
        .values(status="failed", last_error="gateway 500")
    )
    db.session.commit()
    page = support_agent.get("/admin/deliveries")
    assert page.status_code == 200
    assert '<svg class="chart"' in page.text and "SMS per hour" in page.text
    assert "+7999" in page.text and "RU" in page.text  # the range and its region
    assert "gateway 500" in page.text and "+7 999 ***-**-02" in page.text


def test_support_replays_a_webhook_event_that_gave_up(support_agent, app):  # noqa: F811
    app.config["WEBHOOK_URLS"] = [("https://crm.example/in", ("user.created",))]
    event = WebhookEvent(id="evt_test_1", type="user.created", payload="{}")
    db.session.add(event)
    db.session.add(WebhookDelivery(event=event, url="https://crm.example/in", status="failed", attempts=8))
    db.session.commit()
    page = support_agent.get("/admin/deliveries")
    assert "evt_test_1" in page.text
    before = audit_count()
    support_agent.post("/admin/webhooks/evt_test_1/replay")
    assert audit_count() == before + 1 and actions()[-1] == "webhook.replayed"
    pending = db.session.scalars(select(WebhookDelivery.status).where(WebhookDelivery.event_id == "evt_test_1"))
    assert "pending" in list(pending)
    assert (
        "There is no such event."
        in (support_agent.post("/admin/webhooks/nothing/replay") and support_agent.get("/admin/deliveries")).text
    )

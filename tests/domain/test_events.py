"""Events are written to the outbox in the transaction of the change they report (``domain/events.py``)."""

import base64
import json

import pytest
from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import WebhookDelivery, WebhookEvent

URL = "https://hooks.example.com/referral"
TYPES = ("user.created", "referral.activated", "user.phone_changed", "user.deleted")


@pytest.fixture(autouse=True)
def endpoint(app):
    app.config.update(WEBHOOK_URLS=[(URL, TYPES)], WEBHOOK_SECRET=["whsec_" + base64.b64encode(b"k" * 32).decode()])


def events() -> list[dict]:
    db.session.expire_all()
    return [
        json.loads(payload)
        for payload in db.session.scalars(select(WebhookEvent.payload).order_by(WebhookEvent.created_at))
    ]


def test_a_sign_up_that_fails_on_its_invite_code_emits_nothing(client, api):
    code = api.request_code("+79990000001")
    response = client.post("/api/v1/auth/token", json={"phone": "+79990000001", "code": code, "invite_code": "NoSuch"})
    assert response.status_code == 404
    assert events() == []


def test_entering_a_code_later_emits_referral_activated(client, api):
    anna = api.sign_in("+79990000001")
    boris = api.sign_in("+79990000002")
    response = client.post(
        "/api/v1/profile/invite", headers=boris["headers"], json={"invite_code": anna["user"]["invite_code"]}
    )
    assert response.status_code == 200
    (activated,) = [event for event in events() if event["type"] == "referral.activated"]
    assert activated["data"]["invitee"]["id"] == boris["user"]["id"]
    assert activated["data"]["inviter"] == {
        "id": anna["user"]["id"],
        "phone": "+79990000001",
        "invite_code": anna["user"]["invite_code"],
    }
    assert activated["data"]["activated_at"] == response.json["invited_at"].replace("+00:00", "Z")


def test_a_refused_activation_emits_nothing(client, api):
    anna = api.sign_in("+79990000001")
    before = len(events())
    response = client.post(
        "/api/v1/profile/invite", headers=anna["headers"], json={"invite_code": anna["user"]["invite_code"]}
    )
    assert response.status_code == 422
    assert len(events()) == before


def test_a_phone_change_emits_user_phone_changed(client, api):
    anna = api.sign_in("+79990000001")
    code = client.post("/api/v1/profile/phone", headers=anna["headers"], json={"phone": "+79990000009"}).json[
        "debug_code"
    ]
    confirm = client.post(
        "/api/v1/profile/phone/confirm", headers=anna["headers"], json={"phone": "+79990000009", "code": code}
    )
    assert confirm.status_code == 200
    changed = events()[-1]
    assert changed["type"] == "user.phone_changed"
    assert changed["data"] == {"user_id": anna["user"]["id"], "old_phone": "+79990000001", "new_phone": "+79990000009"}


def test_deleting_a_user_emits_user_deleted_with_the_referrals_it_detached(runner, api):
    anna = api.sign_in("+79990000001")
    boris = api.sign_in("+79990000002", invite_code=anna["user"]["invite_code"])
    result = runner.invoke(args=["users", "delete", "+79990000001", "--yes"])
    assert result.exit_code == 0, result.output
    deleted = events()[-1]
    assert deleted["type"] == "user.deleted"
    assert deleted["data"] == {
        "user": {"id": anna["user"]["id"], "phone": "+79990000001"},
        "detached_referrals": [boris["user"]["id"]],
    }


def test_each_event_gets_one_delivery_per_endpoint_that_wants_it(app, api):
    app.config["WEBHOOK_URLS"] = [(URL, TYPES), ("https://crm.example.com/in", ("referral.activated",))]
    anna = api.sign_in("+79990000001")
    api.sign_in("+79990000002", invite_code=anna["user"]["invite_code"])
    rows = db.session.execute(
        select(WebhookEvent.type, WebhookDelivery.url).join(
            WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id
        )
    ).all()
    assert sorted(rows) == sorted(
        [
            ("user.created", URL),
            ("user.created", URL),
            ("referral.activated", URL),
            ("referral.activated", "https://crm.example.com/in"),
        ]
    )

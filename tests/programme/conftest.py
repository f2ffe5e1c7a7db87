"""Fixtures of the referral programme's tests: events written, API keys, people who invite and are invited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from config import WEBHOOK_EVENT_TYPES
from referral.domain import api_keys, rewards
from referral.extensions import db
from referral.infra.models import WebhookEvent
from tests.conftest import ip_of

INVITER = "+79991110000"


@pytest.fixture
def events(app) -> Any:
    """The events the app writes (to an endpoint that wants them all); call it for their (type, data) pairs."""
    app.config["WEBHOOK_URLS"] = [("https://hooks.example/in", WEBHOOK_EVENT_TYPES)]
    app.config["WEBHOOK_SECRET"] = ["whsec_" + "A" * 40]

    def written(kind: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        db.session.expire_all()
        rows = db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.created_at, WebhookEvent.id)).all()
        found = [(row.type, json.loads(row.payload)["data"]) for row in rows]
        return [pair for pair in found if kind is None or pair[0] == kind]

    return written


@pytest.fixture
def inviter(api) -> dict[str, Any]:
    tokens = api.sign_in(INVITER)
    tokens["code"] = tokens["user"]["invite_code"]
    tokens["id"] = tokens["user"]["id"]
    return tokens


# Invitees' numbers far apart from each other and from the inviter's: the number rules stay out of the way.
SPREAD = ["+79161234571", "+79261987642", "+79035551213", "+79857770984", "+79672223345", "+79114448876"]


@pytest.fixture
def invite(api, inviter):
    """Sign up the n-th invitee of ``SPREAD`` with the inviter's code; their token response."""

    def sign_up(n: int = 0, phone: str | None = None) -> dict[str, Any]:
        tokens = api.sign_in(phone or SPREAD[n], invite_code=inviter["code"])
        tokens["id"] = tokens["user"]["id"]
        return tokens

    return sign_up


@pytest.fixture
def api_key(app) -> str:
    return api_keys.create("billing").key


@pytest.fixture
def programme(client, api_key):
    """The programme's backend calling the server-to-server API with its key."""

    class Backend:
        def get(self, path: str, **kwargs: Any) -> Any:
            return client.get(f"/api/v1/programme{path}", headers={"X-API-Key": api_key}, **kwargs)

        def post(self, path: str, **kwargs: Any) -> Any:
            return client.post(f"/api/v1/programme{path}", headers={"X-API-Key": api_key}, **kwargs)

    return Backend()


def rule(**fields: Any) -> int:
    """A reward rule in force (the domain's function, as the console and the CLI add them)."""
    rule_id = rewards.add_rule(**({"beneficiary": "inviter", "amount": 100, "unit": "RUB"} | fields))
    db.session.commit()
    return rule_id


__all__ = ["INVITER", "SPREAD", "ip_of", "rule"]

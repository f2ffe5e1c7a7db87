"""A person's data as one JSON file (152-FZ and GDPR), for the API's export and the pages' "Download my data"."""

from __future__ import annotations

import json
from collections.abc import Iterator

from marshmallow import Schema, fields

from referral import clock
from referral.domain import account, sessions
from referral.domain.account import Account
from referral.http.schemas import ProfileSchema


class DeviceSchema(Schema):
    id = fields.String(metadata={"description": "The session's id, for ending it."})
    device = fields.String(allow_none=True, metadata={"example": "Chrome Mobile on Android"})
    created_at = fields.AwareDateTime(metadata={"description": "When it signed in."})
    last_used_at = fields.AwareDateTime(metadata={"description": "Its sign-in or last token refresh."})
    current = fields.Boolean(metadata={"description": "The session of this request."})


class DevicesSchema(Schema):
    items = fields.Nested(DeviceSchema, many=True)


def export_json(me: Account, session_id: str | None) -> Iterator[str]:
    """The export as JSON text, written as it is read: an influencer's referrals are not held in memory."""
    profile = ProfileSchema().dump(account.profile_of(me))
    yield '{"profile": ' + json.dumps(profile, ensure_ascii=False) + ', "referrals": ['
    for n, person in enumerate(account.all_referrals(me.id)):
        item = {
            "phone": person.phone,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "joined_at": person.joined_at.isoformat(),
        }
        yield ("," if n else "") + json.dumps(item, ensure_ascii=False)
    devices = DevicesSchema().dump({"items": sessions.devices(me.id, session_id)})["items"]
    sent = [
        {"sent_at": send.sent_at.isoformat(), "purpose": send.purpose, "status": send.status}
        for send in account.codes_sent(me.phone)
    ]
    yield '], "sessions": ' + json.dumps(devices, ensure_ascii=False)
    yield ', "codes_sent": ' + json.dumps(sent, ensure_ascii=False)
    yield f', "exported_at": {json.dumps(clock.utcnow().isoformat())}}}'

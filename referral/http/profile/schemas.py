"""What the profile endpoints take and give beyond the shared profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from referral.domain.referrals import InvalidCursor, ReferralPage, decode_cursor
from referral.http.schemas import invite_code_field, login_code_field, phone_field


class InviteSchema(Schema):
    invite_code = invite_code_field(required=True)


class CursorField(fields.Field[tuple[datetime, int]]):
    """The opaque keyset cursor a previous page handed out, decoded."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[datetime, int]:
        try:
            return decode_cursor(value if isinstance(value, str) else "")
        except InvalidCursor as error:
            raise ValidationError(str(error)) from None


class ReferralsQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE  # query strings pick up cache-busters; only bodies are strict

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = CursorField(
        load_default=None,
        metadata={
            "type": "string",
            "description": "next_cursor of the page before, exactly as it came. Any cursor this service did not "
            "issue (malformed, altered, or out of range once decoded) is a 422 with errors.cursor: start again "
            "without one.",
        },
    )


class ReferralSchema(Schema):
    phone = fields.String(metadata={"example": "+79990001122"})
    first_name = fields.String()
    last_name = fields.String()
    joined_at = fields.AwareDateTime(metadata={"description": "When they entered the invite code."})
    channel = fields.String(
        allow_none=True,
        metadata={
            "enum": ["link", "code_at_signup", "code_later", None],
            "description": "How the code was entered: through the invite link, typed at sign-up, or entered later "
            "on the profile; null for referrals made before this was recorded. Added after the first release.",
        },
    )
    state = fields.String(
        metadata={
            "enum": ["pending", "qualified", "voided"],
            "description": "pending until the referral qualifies (and earns its rewards), qualified, or voided (it "
            "no longer counts as qualified). Added after the first release.",
        }
    )


class ReferralPageSchema(Schema):
    """The page as the OpenAPI document describes it; ``referral_page_json`` writes it out."""

    items = fields.Nested(ReferralSchema, many=True)
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page."})
    count = fields.Integer(metadata={"description": "All referrals, not just this page."})


def referral_page_json(page: ReferralPage) -> dict[str, Any]:
    """What ``ReferralPageSchema().dump(page)`` gives, written out: marshmallow's dump goes field by field
    through its machinery (about 300 field serializations for a page of 50), a third of the endpoint's CPU
    (bench/RESULTS.md, fourteenth round). The times are handed to the response's writer as they are, which
    spells them as the schema does (``http/json_provider.py``) in a fifth of ``isoformat``'s time.
    ``tests/http/profile/test_referrals.py`` holds the two bodies equal."""
    return {
        "items": [
            {
                "phone": item.phone,
                "first_name": item.first_name,
                "last_name": item.last_name,
                "joined_at": item.joined_at,
                "channel": item.channel,
                "state": item.state,
            }
            for item in page.items
        ],
        "next_cursor": page.next_cursor,
        "count": page.count,
    }


class PhoneChangeSchema(Schema):
    phone = phone_field()


class PhoneConfirmSchema(Schema):
    phone = phone_field()
    code = login_code_field()


class RewardOfMineSchema(Schema):
    id = fields.Integer()
    label = fields.String(metadata={"example": "200 RUB credit"})
    amount = fields.Integer(metadata={"example": 200})
    unit = fields.String(metadata={"example": "RUB"})
    status = fields.String(metadata={"enum": ["earned", "fulfilled", "cancelled"]})
    occasion = fields.String(metadata={"description": "referral:<invitee id> or milestone."})
    earned_at = fields.AwareDateTime()


class MilestoneSchema(Schema):
    threshold = fields.Integer(metadata={"description": "Qualified referrals the milestone needs."})
    label = fields.String()
    amount = fields.Integer()
    unit = fields.String()
    qualified = fields.Integer(metadata={"description": "Your qualified referrals now."})
    remaining = fields.Integer()


class MyRewardsSchema(Schema):
    rewards = fields.Nested(RewardOfMineSchema, many=True, metadata={"description": "The newest 50, newest first."})
    qualified_referrals_count = fields.Integer()
    next_milestone = fields.Nested(MilestoneSchema, allow_none=True, metadata={"description": "null: none ahead."})

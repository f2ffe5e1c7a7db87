"""What the programme's server-to-server API takes and gives."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

STATES = ["pending", "qualified", "held", "voided"]


class ReferralStateSchema(Schema):
    """A referral as the programme's backend sees it: held ones say so here (never to the people)."""

    invitee_id = fields.Integer()
    inviter_id = fields.Integer()
    state = fields.String(metadata={"enum": STATES})
    invited_at = fields.AwareDateTime()


class VoidSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={"example": "refund"})


class VoidedSchema(Schema):
    referral = fields.Nested(ReferralStateSchema)
    cancelled_rewards = fields.List(fields.Integer(), metadata={"description": "Earned, now cancelled."})
    flagged_rewards = fields.List(
        fields.Integer(), metadata={"description": "Already fulfilled: flagged for staff, not taken back."}
    )


class RewardSchema(Schema):
    id = fields.Integer()
    rule_id = fields.Integer()
    user_id = fields.Integer()
    user_phone = fields.String(data_key="phone")
    occasion = fields.String(metadata={"description": "referral:<invitee id> or milestone."})
    referral_id = fields.Integer(allow_none=True)
    label = fields.String(metadata={"example": "200 ₽ credit"})
    amount = fields.Integer(metadata={"example": 200})
    unit = fields.String(metadata={"example": "RUB"})
    status = fields.String(metadata={"enum": ["earned", "fulfilled", "cancelled"]})
    earned_at = fields.AwareDateTime()
    settled_at = fields.AwareDateTime(allow_none=True)
    flagged = fields.Boolean(metadata={"description": "Fulfilled, and its referral was voided afterwards."})


class RewardsQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(load_default=None, validate=validate.OneOf(["earned", "fulfilled", "cancelled"]))
    before = fields.Integer(load_default=None, validate=validate.Range(min=1), metadata={"description": "next_before"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class RewardPageSchema(Schema):
    items = fields.Nested(RewardSchema, many=True)
    next_before = fields.Integer(allow_none=True, metadata={"description": "Pass as before; null on the last page."})

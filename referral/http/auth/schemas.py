"""What the sign-in endpoints take."""

from marshmallow import Schema

from referral.http.schemas import invite_code_field, login_code_field, phone_field


class CodeRequestSchema(Schema):
    phone = phone_field()


class TokenRequestSchema(Schema):
    phone = phone_field()
    code = login_code_field()
    invite_code = invite_code_field(load_default=None, allow_none=True)

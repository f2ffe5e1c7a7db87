"""Schemas shared by both blueprints: the problem body, the profile, token pairs, and the input fields."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from referral.domain.account import Account
from referral.domain.codes import LANGUAGES, IssuedCode
from referral.domain.phones import InvalidPhone, normalise_phone
from referral.domain.signin import SignIn
from referral.domain.text import INVALID_TEXT_MESSAGE, is_storable
from referral.infra.models import NAME_LENGTH


class Strings(fields.List):
    """A list of strings, dumped as it is: ``fields.List`` would call the item field once per item (a hundred
    referral phones on every profile of a popular user). Documented as the array of strings it is."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[str] | None:
        return None if value is None else [str(item) for item in value]


class TrimmedString(fields.String):
    """A string with surrounding white space removed, no control characters and nothing that is not valid
    Unicode (a lone surrogate, which no database stores)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not is_storable(text):
            raise ValidationError(INVALID_TEXT_MESSAGE)
        if any(unicodedata.category(char) == "Cc" for char in text):
            raise ValidationError("Control characters are not allowed.")
        return text


class PhoneField(fields.String):
    """Any common spelling of a mobile number in, E.164 out."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_phone(text, current_app.config["DEFAULT_PHONE_REGION"])
        except InvalidPhone as error:
            raise ValidationError(str(error)) from None


def phone_field(**kwargs: Any) -> PhoneField:
    return PhoneField(
        required=True,
        metadata={"description": "A mobile number in any common form; answered in E.164.", "example": "+79991234567"},
        **kwargs,
    )


def login_code_field() -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{1,16}$", error="The code is digits only."),
        metadata={"example": "1234"},
    )


def invite_code_field(**kwargs: Any) -> TrimmedString:
    return TrimmedString(
        validate=validate.Regexp(r"^[A-Za-z0-9]{1,32}$", error="An invite code is letters and digits."),
        metadata={
            "description": "Six letters and digits, matched ignoring case (the exact spelling wins when two older "
            "codes differ only in case); always answered as it was issued.",
            "example": "ZY8WQP",
        },
        **kwargs,
    )


class NamesSchema(Schema):
    """Names as the API and the pages take them: trimmed, at most 64 characters, no control characters."""

    first_name = TrimmedString(validate=validate.Length(max=NAME_LENGTH), metadata={"example": "Anna"})
    last_name = TrimmedString(validate=validate.Length(max=NAME_LENGTH), metadata={"example": "Petrova"})

    @validates_schema
    def needs_a_name(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send first_name, last_name or both.")


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the stable machine ``code``."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Unprocessable Content"})
    status = fields.Integer(metadata={"example": 422})
    detail = fields.String(metadata={"example": "Enter a valid mobile phone number."})
    code = fields.String(metadata={"example": "invalid_phone"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Only for field validation: messages by field name."},
    )
    attempts_left = fields.Integer(metadata={"description": "Only with code_invalid."})


class ProfileSchema(Schema):
    """The signed-in user, as every client shows it (dumps a ``domain.account.Account`` read with its referrals)."""

    id = fields.Integer(dump_only=True)
    phone = fields.String(metadata={"example": "+79991234567"})
    invite_code = fields.String(metadata={"example": "aB3xK9"})
    first_name = fields.String(metadata={"example": "Anna"})
    last_name = fields.String(metadata={"example": "Petrova"})
    activated_invite_code = fields.String(allow_none=True, metadata={"example": "Zy8WqP"})
    invited_at = fields.AwareDateTime(allow_none=True)
    referrals_count = fields.Integer(metadata={"description": "Everyone who entered your code, however they stand."})
    referrals = Strings(
        attribute="newest_referrals", metadata={"description": "Phones of the newest 100 referrals, newest first."}
    )
    created_at = fields.AwareDateTime()
    # Added after the first release: after the documented fields, so their order stays as API.md shows it.
    qualified_referrals_count = fields.Integer(
        metadata={
            "description": "Those of them that qualified (and earned the rewards). Added after the first release."
        }
    )


def profile_json(account: Account) -> dict[str, Any]:
    """What ``ProfileSchema().dump(account)`` gives, written out (the profile endpoints answer with it: the
    schema documents them). marshmallow's dump goes field by field through its machinery, as it did for the
    referral page (bench/RESULTS.md, fourteenth round). Its times are left for the response's writer to spell
    (``http/json_provider.py``), as the schema spells them; ``tests/http/profile/test_profile.py`` holds the
    two bodies equal, keys in the same order."""
    referrals = account.newest_referrals
    return {
        "id": account.id,
        "phone": account.phone,
        "invite_code": account.invite_code,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "activated_invite_code": account.activated_invite_code,
        "invited_at": account.invited_at,
        "referrals_count": account.referrals_count,
        "referrals": None if referrals is None else [str(phone) for phone in referrals],
        "created_at": account.created_at,
        "qualified_referrals_count": account.qualified_referrals_count,
    }


class TokenPairSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "Seconds the access token lives.", "example": 900})


class SignInSchema(Schema):
    access_token = fields.String(attribute="tokens.access_token")
    refresh_token = fields.String(attribute="tokens.refresh_token")
    token_type = fields.String(attribute="tokens.token_type", metadata={"example": "Bearer"})
    expires_in = fields.Integer(attribute="tokens.expires_in", metadata={"example": 900})
    user = fields.Nested(ProfileSchema, attribute="profile")


def sign_in_json(result: SignIn) -> dict[str, Any]:
    """What ``SignInSchema().dump(result)`` gives, written out as ``profile_json`` is (the same test holds them
    equal)."""
    tokens = result.tokens
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
        "user": profile_json(result.profile),
    }


class CodeSentSchema(Schema):
    detail = fields.String(metadata={"example": "Code sent."})
    phone = fields.String(metadata={"example": "+79991234567"})
    expires_in = fields.Integer(metadata={"example": 300})
    resend_in = fields.Integer(metadata={"example": 60})
    debug_code = fields.String(metadata={"description": "Only while OTP_DEBUG is on.", "example": "1234"})


def asked_language() -> str | None:
    """The language of the SMS the caller asked for with ``Accept-Language``, if it asked for one we speak."""
    if "Accept-Language" not in request.headers:
        return None
    best: str | None = request.accept_languages.best_match(LANGUAGES)
    return best


def code_sent(issued: IssuedCode) -> dict[str, Any]:
    """The 202 body for a code that went out."""
    body = {
        "detail": "Code sent.",
        "phone": issued.phone,
        "expires_in": issued.expires_in,
        "resend_in": issued.resend_in,
    }
    if current_app.config["OTP_DEBUG"]:
        body["debug_code"] = issued.code
    return body

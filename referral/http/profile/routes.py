"""The signed-in user: profile, names, invite code, referrals, phone change."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from referral.domain import account, phone_change, referrals, rewards
from referral.domain.referrals import PROFILE_REFERRALS
from referral.domain.signin import SignIn
from referral.http.bearer import bearer_required, current_account, read_with_session
from referral.http.limits import check_code_limit, send_code_limit
from referral.http.openapi import BEARER_AUTH, TOKEN_REFUSALS, ApiBlueprint, problems
from referral.http.profile.schemas import (
    InviteSchema,
    MyRewardsSchema,
    PhoneChangeSchema,
    PhoneConfirmSchema,
    ReferralPageSchema,
    ReferralsQuerySchema,
    referral_page_json,
)
from referral.http.schemas import (
    CodeSentSchema,
    NamesSchema,
    ProfileSchema,
    SignInSchema,
    asked_language,
    code_sent,
    profile_json,
)
from referral.http.signals import request_signals

blp = ApiBlueprint("profile", __name__, url_prefix="/api/v1/profile", description="The signed-in user.")


@blp.route("", methods=["GET"])
@bearer_required(referrals=PROFILE_REFERRALS)
@blp.doc(security=BEARER_AUTH)
@blp.response(200, ProfileSchema)
@problems(blp, TOKEN_REFUSALS, takes_body=False)
def get_profile() -> Response:
    """The signed-in user, with the phones of their newest 100 referrals."""
    return jsonify(profile_json(account.profile_of(current_account())))


@blp.route("", methods=["PATCH"])
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.arguments(NamesSchema(), example={"first_name": "Anna", "last_name": "Petrova"})
@blp.response(200, ProfileSchema)
@problems(blp, {**TOKEN_REFUSALS, 422: "validation_error"})
def update_names(args: dict[str, str]) -> Response:
    """Edit names (either or both; trimmed; at most 64 characters; "" clears)."""
    return jsonify(profile_json(account.update_names(current_account(), args)))


@blp.route("/invite", methods=["POST"])
@bearer_required(referrals=PROFILE_REFERRALS)
@blp.doc(security=BEARER_AUTH)
@blp.arguments(InviteSchema(), example={"invite_code": "Zy8WqP"})
@blp.response(200, ProfileSchema)
@problems(
    blp,
    {
        **TOKEN_REFUSALS,
        404: "invite_code_not_found",
        409: "invite_already_activated",
        422: "invite_code_own, invite_cycle, validation_error",
    },
)
def activate_invite(args: dict[str, str]) -> Response:
    """Enter someone's invite code: once, never your own, never one that closes a loop."""
    return jsonify(profile_json(account.enter_invite_code(current_account(), args["invite_code"], request_signals())))


@blp.route("/rewards", methods=["GET"])
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.response(200, MyRewardsSchema)
@problems(blp, TOKEN_REFUSALS, takes_body=False)
def my_rewards() -> rewards.Standing:
    """Your rewards, your qualified referrals and the next milestone ahead."""
    return rewards.standing_of(current_account())


@blp.route("/referrals", methods=["GET"])
@bearer_required(session_in_view=True)
@blp.doc(security=BEARER_AUTH)
@blp.arguments(ReferralsQuerySchema(), location="query")
@blp.response(200, ReferralPageSchema)
@problems(blp, {**TOKEN_REFUSALS, 422: "validation_error"}, takes_body=False)
def list_referrals(args: dict[str, Any]) -> Response:
    """Everyone who entered your code, newest first, a page at a time (keyset cursor)."""
    page = read_with_session(referrals.signed_in_page, args["limit"], args["cursor"])
    return jsonify(referral_page_json(page))  # flask-smorest passes a response through: the schema documents it


@blp.route("/phone", methods=["POST"])
@send_code_limit
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.arguments(PhoneChangeSchema(), example={"phone": "+79997654321"})
@blp.response(202, CodeSentSchema)
@problems(
    blp,
    {
        **TOKEN_REFUSALS,
        409: "phone_taken",
        422: "invalid_phone, phone_region_not_allowed, phone_unchanged, validation_error",
        429: "code_resend_too_soon, rate_limited",
    },
)
def request_phone_change(args: dict[str, str]) -> dict[str, Any]:
    """Start a phone change: a code goes to the new number."""
    return code_sent(phone_change.request_phone_change(current_account(), args["phone"], asked_language()))


@blp.route("/phone/confirm", methods=["POST"])
@check_code_limit
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.arguments(PhoneConfirmSchema(), example={"phone": "+79997654321", "code": "1234"})
@blp.response(200, SignInSchema)
@problems(
    blp,
    {
        401: "code_invalid, code_expired, token_missing, token_invalid, token_expired, token_revoked",
        409: "phone_taken",
        422: "invalid_phone, validation_error",
        429: "code_attempts_exceeded, rate_limited",
    },
)
def confirm_phone_change(args: dict[str, str]) -> SignIn:
    """Finish a phone change with the code: every earlier session ends; a new token pair comes back."""
    return phone_change.confirm_phone_change(current_account(), args["phone"], args["code"], request.user_agent.string)

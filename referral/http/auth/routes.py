"""Sign in with a phone number and a one-time SMS code; rotate and end sessions."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from referral.domain import sessions, signin
from referral.http.auth.schemas import CodeRequestSchema, TokenRequestSchema
from referral.http.bearer import bearer_required, current_claims
from referral.http.limits import check_code_limit, send_code_limit
from referral.http.openapi import BEARER_AUTH, TOKEN_REFUSALS, ApiBlueprint, problems
from referral.http.schemas import (
    CodeSentSchema,
    SignInSchema,
    TokenPairSchema,
    asked_language,
    code_sent,
    sign_in_json,
)
from referral.http.signals import request_signals

blp = ApiBlueprint(
    "auth", __name__, url_prefix="/api/v1/auth", description="Sign in with a phone number and an SMS code."
)

INVITE_ERRORS = {404: "invite_code_not_found", 409: "invite_already_activated"}


@blp.route("/code", methods=["POST"])
@send_code_limit
@blp.arguments(CodeRequestSchema(), example={"phone": "+7 999 123-45-67"})
@blp.response(202, CodeSentSchema)
@problems(
    blp,
    {
        422: "invalid_phone, phone_region_not_allowed, validation_error",
        429: "code_resend_too_soon, rate_limited (per-IP or per-phone hourly/daily cap, or a locked phone)",
    },
)
def request_login_code(args: dict[str, Any]) -> dict[str, Any]:
    """Send a login code by SMS (the same answer whether or not the phone is registered)."""
    return code_sent(signin.request_login_code(args["phone"], asked_language()))


@blp.route("/token", methods=["POST"])
@check_code_limit
@blp.arguments(TokenRequestSchema(), example={"phone": "+79991234567", "code": "1234", "invite_code": "Zy8WqP"})
@blp.response(200, SignInSchema, description="Signed in.")
@blp.alt_response(201, schema=SignInSchema, description="Signed up: this request created the user.", success=True)
@problems(
    blp,
    {
        401: "code_invalid (with attempts_left), code_expired",
        403: "account_blocked (staff blocked this account; the code is not spent)",
        422: "invalid_phone, validation_error, invite_code_own, invite_cycle",
        429: "code_attempts_exceeded, rate_limited (per-IP cap, or the phone is locked after wrong codes)",
        **INVITE_ERRORS,
    },
)
def exchange_login_code(args: dict[str, Any]) -> tuple[Response, int]:
    """Exchange phone and code for tokens, creating the user on the first sign-in."""
    result = signin.sign_in(
        args["phone"], args["code"], args["invite_code"], request.user_agent.string, signals=request_signals()
    )
    return jsonify(sign_in_json(result)), 201 if result.created else 200


@blp.route("/refresh", methods=["POST"])
@bearer_required(refresh=True)
@blp.doc(security=BEARER_AUTH, description="Send the refresh token as the bearer token. It is spent.")
@blp.response(200, TokenPairSchema)
@problems(blp, TOKEN_REFUSALS)
def refresh_tokens() -> sessions.TokenPair:
    """Rotate tokens: spend the refresh token, get a new pair (a spent one revokes the session)."""
    claims = current_claims()
    return sessions.rotate_session(claims["sid"], claims["jti"])


@blp.route("/logout", methods=["POST"])
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.response(204)
@problems(blp, TOKEN_REFUSALS)
def logout() -> None:
    """End this session: its access and refresh tokens stop working."""
    sessions.revoke_session(current_claims()["sid"])

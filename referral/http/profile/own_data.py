"""What people do with their own account: see and end their devices, download their data, delete the account
(confirmed by a fresh SMS code)."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context
from marshmallow import Schema, fields

from referral.domain import account, sessions
from referral.http.bearer import bearer_required, current_account, current_claims
from referral.http.export import DevicesSchema, export_json
from referral.http.limits import check_code_limit, send_code_limit
from referral.http.openapi import BEARER_AUTH, TOKEN_REFUSALS, ApiBlueprint, problems
from referral.http.schemas import CodeSentSchema, asked_language, code_sent, login_code_field

blp = ApiBlueprint(
    "own_data", __name__, url_prefix="/api/v1/profile", description="The signed-in user's devices and data."
)


class EndedSchema(Schema):
    ended = fields.Integer(metadata={"description": "How many sessions ended."})


class DeletionConfirmSchema(Schema):
    code = login_code_field()


@blp.route("/sessions", methods=["GET"])
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.response(200, DevicesSchema)
@problems(blp, TOKEN_REFUSALS, takes_body=False)
def list_devices() -> dict[str, Any]:
    """Your signed-in devices (live sessions), the most recently used first."""
    return {"items": sessions.devices(current_account().id, current_claims().get("sid"))}


@blp.route("/sessions/<session_id>", methods=["DELETE"])
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.response(204)
@problems(blp, {**TOKEN_REFUSALS, 404: "session_not_found"}, takes_body=False)
def end_device(session_id: str) -> None:
    """End one of your sessions (this one too, if it is its id): its tokens stop working."""
    sessions.end_device(current_account().id, session_id)


@blp.route("/sessions", methods=["DELETE"])
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.response(200, EndedSchema)
@problems(blp, TOKEN_REFUSALS, takes_body=False)
def end_other_devices() -> dict[str, int]:
    """End every session but this one; how many ended."""
    return {"ended": sessions.end_other_devices(current_account().id, current_claims()["sid"])}


@blp.route("/export", methods=["GET"])
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.response(200, description="Your data as one JSON file: profile, referrals, sessions, codes sent.")
@problems(blp, TOKEN_REFUSALS, takes_body=False)
def export_data() -> Response:
    """Download your data (152-FZ and GDPR): profile, every referral, the sessions and the codes sent to you."""
    me = current_account()
    body = stream_with_context(export_json(me, current_claims().get("sid")))
    disposition = 'attachment; filename="referral-data.json"'
    return Response(body, mimetype="application/json", headers={"Content-Disposition": disposition})


@blp.route("/deletion", methods=["POST"])
@send_code_limit
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.response(202, CodeSentSchema)
@problems(blp, {**TOKEN_REFUSALS, 429: "code_resend_too_soon, rate_limited"}, takes_body=False)
def request_deletion() -> dict[str, Any]:
    """Ask to delete your account: a code goes to your phone, which confirms it."""
    return code_sent(account.request_deletion(current_account(), asked_language()))


@blp.route("/deletion/confirm", methods=["POST"])
@check_code_limit
@bearer_required()
@blp.doc(security=BEARER_AUTH)
@blp.arguments(DeletionConfirmSchema(), example={"code": "1234"})
@blp.response(204)
@problems(
    blp,
    {
        401: "code_invalid, code_expired, token_missing, token_invalid, token_expired, token_revoked",
        422: "validation_error",
        429: "code_attempts_exceeded, rate_limited",
    },
)
def confirm_deletion(args: dict[str, str]) -> None:
    """Delete your account with the code: your referrals are detached (they may enter another code), your
    inviter counts one fewer, a user.deleted event goes out, and every token of yours stops working."""
    account.confirm_deletion(current_account(), args["code"])

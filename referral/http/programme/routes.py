"""The programme's own backend: report qualifying actions, void referrals, list and fulfil rewards. Called with
an API key in ``X-API-Key`` (``flask apikeys create``), rate-limited per key; never with a user's token."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from referral.domain import api_keys, qualification, rewards
from referral.extensions import limiter
from referral.http.openapi import ApiBlueprint, problems
from referral.http.programme.schemas import (
    ReferralStateSchema,
    RewardPageSchema,
    RewardSchema,
    RewardsQuerySchema,
    VoidedSchema,
    VoidSchema,
)

blp = ApiBlueprint(
    "programme",
    __name__,
    url_prefix="/api/v1/programme",
    description="The programme's own backend, with an API key in X-API-Key.",
)
API_KEY_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}]
KEY_REFUSALS = {401: "api_key_invalid", 429: "rate_limited"}


def api_key_id() -> str:
    """The id of this request's live API key, checked once per request (``ApiKeyInvalid`` otherwise): the rate
    limit's key, so a wrong key spends no real key's budget."""
    if "api_key_id" not in g:
        g.api_key_id = api_keys.authenticate(request.headers.get("X-API-Key"))
    key_id: str = g.api_key_id
    return key_id


programme_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_PROGRAMME_API"], scope="programme-api", key_func=api_key_id
)


@blp.before_request
def require_api_key() -> None:
    api_key_id()


@blp.teardown_request
def forget_api_key(error: BaseException | None = None) -> None:
    g.pop("api_key_id", None)  # where the app context outlives the request (tests), the key goes with it


@blp.route("/referrals/<int:invitee_id>", methods=["GET"])
@programme_limit
@blp.doc(security=API_KEY_AUTH)
@blp.response(200, ReferralStateSchema)
@problems(blp, {**KEY_REFUSALS, 404: "referral_not_found"}, takes_body=False)
def get_referral(invitee_id: int) -> qualification.Referral:
    """Where the referral of the user ``invitee_id`` stands."""
    return qualification.referral(invitee_id)


@blp.route("/referrals/<int:invitee_id>/qualify", methods=["POST"])
@programme_limit
@blp.doc(security=API_KEY_AUTH)
@blp.response(200, ReferralStateSchema)
@problems(blp, {**KEY_REFUSALS, 404: "referral_not_found", 409: "referral_voided"}, takes_body=False)
def qualify_referral(invitee_id: int) -> qualification.Referral:
    """The invitee did what qualifies them: a pending referral qualifies (once, however often this is called);
    a held one stays held and qualifies when staff approve it."""
    return qualification.report_qualifying_action(invitee_id)


@blp.route("/referrals/<int:invitee_id>/void", methods=["POST"])
@programme_limit
@blp.doc(security=API_KEY_AUTH)
@blp.arguments(VoidSchema(), example={"reason": "refund"})
@blp.response(200, VoidedSchema)
@problems(blp, {**KEY_REFUSALS, 404: "referral_not_found", 422: "validation_error"})
def void_referral(args: dict[str, str], invitee_id: int) -> dict[str, Any]:
    """Void the referral (a refund, say): its unfulfilled rewards are cancelled, fulfilled ones flagged."""
    voided, settled = qualification.void(invitee_id, args["reason"], by="programme")
    return {"referral": voided, "cancelled_rewards": settled.cancelled, "flagged_rewards": settled.flagged}


@blp.route("/rewards", methods=["GET"])
@programme_limit
@blp.doc(security=API_KEY_AUTH)
@blp.arguments(RewardsQuerySchema(), location="query")
@blp.response(200, RewardPageSchema)
@problems(blp, {**KEY_REFUSALS, 422: "validation_error"}, takes_body=False)
def list_rewards(args: dict[str, Any]) -> rewards.RewardPage:
    """Rewards, newest first (``status=earned``: the ones to pay), a page at a time."""
    return rewards.listed(args["status"], before_id=args["before"], limit=args["limit"])


@blp.route("/rewards/<int:reward_id>/fulfil", methods=["POST"])
@programme_limit
@blp.doc(security=API_KEY_AUTH)
@blp.response(200, RewardSchema)
@problems(blp, {**KEY_REFUSALS, 404: "reward_not_found", 409: "reward_cancelled"}, takes_body=False)
def fulfil_reward(reward_id: int) -> Any:
    """The reward was paid: marked fulfilled (idempotent), with ``reward.fulfilled``."""
    return rewards.fulfil(reward_id)

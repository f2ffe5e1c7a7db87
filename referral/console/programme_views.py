"""The console's programme pages: the review queue of held referrals, the rewards, the reward rules. Each view
parses, calls one domain function (``domain/review.py``), renders or redirects."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug import Response

from referral.console.door import bp, requires
from referral.console.views import done_on_user_page, form_reason, refused_on_user_page, whole_number
from referral.domain import review, rewards
from referral.domain.errors import DomainError
from referral.domain.phones import masked_for_people
from referral.web.messages import for_error
from referral.web.pages import page

REWARD_STATUSES = ("earned", "fulfilled", "cancelled")
# How the queue names each reason of a hold (domain/fraud.py REASONS).
REASON_LABELS = {
    "shared_device": _l("Same browser as the inviter"),
    "shared_network": _l("Same network as the inviter"),
    "referral_burst": _l("The inviter gained many referrals in an hour"),
    "sequential_numbers": _l("Numbers in sequence with the inviter's other referrals"),
    "shared_prefix": _l("Several of the inviter's referrals from one block of numbers"),
    "not_mobile": _l("Not a mobile number"),
    "virtual_number": _l("A known virtual number range"),
}


def _back(endpoint: str, message: str, category: str = "message") -> Response:
    flash(message, category)
    return redirect(url_for(endpoint))


@bp.get("/reviews")
def reviews() -> Any:
    """The referrals the fraud rules held, oldest first, with the evidence of both sides."""
    return page("console/reviews.html", held=review.queue(), labels=REASON_LABELS, masked=masked_for_people)


@bp.post("/reviews/<int:invitee_id>/approve")
@requires("review_referral")
def approve_referral(invitee_id: int) -> Response:
    """The held referral is honest: it goes on (qualified, or pending until it qualifies)."""
    try:
        approved = review.approve(g.staff, invitee_id, form_reason())
    except DomainError as error:
        return _back("console.reviews", for_error(error), "error")
    if approved.state == "qualified":
        return _back("console.reviews", _("Approved: the referral qualified."))
    return _back("console.reviews", _("Approved: the referral is pending until it qualifies."))


@bp.post("/reviews/<int:invitee_id>/void")
@requires("review_referral")
def void_referral(invitee_id: int) -> Response:
    """The held referral is fraud: voided (a reason is required)."""
    try:
        review.void(g.staff, invitee_id, form_reason(), held_only=True)
    except DomainError as error:
        return _back("console.reviews", for_error(error), "error")
    return _back("console.reviews", _("Voided: the referral will never qualify."))


@bp.post("/users/<int:user_id>/referral/void")
@requires("undo_referral")
def void_users_referral(user_id: int) -> Response:
    """Void the user's referral, whatever it stands at (a reason is required): it stays, counted as voided."""
    try:
        settled = review.void(g.staff, user_id, form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    return done_on_user_page(
        user_id,
        _(
            "Voided: %(n)s unfulfilled rewards cancelled, %(f)s fulfilled ones flagged.",
            n=len(settled.cancelled),
            f=len(settled.flagged),
        ),
    )


@bp.post("/users/<int:user_id>/trust")
@requires("trust_inviter")
def trust_inviter(user_id: int) -> Response:
    """Trust the user with a burst of referrals (a planned campaign; a reason is required)."""
    try:
        review.trust_inviter(g.staff, user_id, form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    return done_on_user_page(user_id, _("Trusted: the volume rules no longer hold their referrals."))


@bp.post("/users/<int:user_id>/distrust")
@requires("trust_inviter")
def distrust_inviter(user_id: int) -> Response:
    """The volume rules hold the user's referrals again."""
    try:
        review.distrust_inviter(g.staff, user_id, form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    return done_on_user_page(user_id, _("No longer trusted: every fraud rule applies to their referrals again."))


@bp.get("/rewards")
def rewards_page() -> Any:
    """Rewards, newest first, by status; the flagged ones (fulfilled, then voided) on their own."""
    status = request.args.get("status")
    status = status if status in REWARD_STATUSES else None
    flagged = request.args.get("flagged") == "1"
    listed = rewards.listed(status, flagged, whole_number(request.args.get("before")))
    return page(
        "console/rewards.html",
        rewards=listed.items,
        more=listed.next_before,
        chosen=status,
        flagged=flagged,
        statuses=REWARD_STATUSES,
        counts=review.reward_counts(),
        masked=masked_for_people,
    )


@bp.post("/rewards/<int:reward_id>/fulfil")
@requires("fulfil_reward")
def fulfil_reward(reward_id: int) -> Response:
    """The reward was paid by hand: marked fulfilled."""
    try:
        review.fulfil(g.staff, reward_id, form_reason())
    except DomainError as error:
        return _back("console.rewards_page", for_error(error), "error")
    return _back("console.rewards_page", _("The reward is marked fulfilled."))


@bp.get("/rules")
def rules() -> Any:
    """The reward rules: what a qualified referral earns."""
    return page("console/rules.html", rules=rewards.rules(), kinds=rewards.KINDS, beneficiaries=rewards.BENEFICIARIES)


def _whole(name: str) -> int | None:
    """A whole number of the rule's form, small enough for its column (an INTEGER)."""
    return whole_number(request.form.get(name), most_digits=9)


@bp.post("/rules")
@requires("manage_rewards")
def add_rule() -> Any:
    """A new reward rule in force."""
    form, amount = request.form, _whole("amount")
    try:
        review.add_rule(
            g.staff,
            kind=form.get("kind", ""),
            beneficiary=form.get("beneficiary", "inviter"),
            label=form.get("label", ""),
            amount=-1 if amount is None else amount,  # refused in words by the domain
            unit=form.get("unit", ""),
            threshold=_whole("threshold"),
            cap=_whole("cap"),
            cap_days=_whole("cap_days"),
        )
    except DomainError as error:
        return _back("console.rules", for_error(error), "error")
    return _back("console.rules", _("The rule is in force."))


@bp.post("/rules/<int:rule_id>/switch")
@requires("manage_rewards")
def switch_rule(rule_id: int) -> Response:
    """Put a rule in or out of force."""
    active = request.form.get("active") == "1"
    if not review.switch_rule(g.staff, rule_id, active):
        return _back("console.rules", _("There is no such rule."), "error")
    return _back("console.rules", _("The rule is in force.") if active else _("The rule is off."))

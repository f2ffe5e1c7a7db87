"""The pages: sign in with a phone and a code, the profile with its invite link, the invite link itself.

Each view parses a form, calls one domain function (the same ones the API's views call) and renders a template;
a refusal of a rule is shown beside the field it is about, in the reader's language.
"""

from __future__ import annotations

from typing import Any

import segno
from flask import (
    abort,
    after_this_request,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug import Response

from referral.domain import account as accounts
from referral.domain import invites, phone_change, programme, referrals, rewards, sessions, signin
from referral.domain.errors import DomainError
from referral.domain.phones import InvalidPhone, for_people, masked_for_people
from referral.http.limits import check_code_limit, send_code_limit
from referral.http.schemas import NamesSchema
from referral.http.signals import request_signals
from referral.web import session as web_session
from referral.web.pages import (
    LANGUAGES,
    bp,
    code_context,
    code_field,
    field_of,
    forget_code,
    page,
    parse_phone,
    refused,
    remember_code,
    required_account,
)

PAGE_SIZE = 20


# Signing in


@bp.get("/")
def index() -> Any:
    """The phone form; with an invite carried from /i/<code>, who invited."""
    if web_session.signed_in() is not None:
        return redirect(url_for("web.profile"))
    return page("index.html", **invitation())


@bp.post("/")
@send_code_limit
def send_code() -> Any:
    typed = {"phone": request.form.get("phone", "")}
    try:
        phone = parse_phone(request.form.get("phone"))
        issued = signin.request_login_code(phone, str(get_locale()))
    except InvalidPhone:
        return refused("index.html", "invalid_phone", "phone", values=typed, **invitation())
    except DomainError as error:
        return refused("index.html", error, field_of(error), values=typed, **invitation())
    remember_code("login", issued)
    return redirect(url_for("web.enter_code"))


@bp.get("/login/code")
def enter_code() -> Any:
    if "login_phone" not in session:
        return redirect(url_for("web.index"))
    return page("code.html", **code_context("login"))


@bp.post("/login/code")
@check_code_limit
def check_code() -> Any:
    phone = session.get("login_phone")
    if phone is None:
        return redirect(url_for("web.index"))
    try:
        invite = session.get("invite")  # set only by an invite link
        result = signin.sign_in(
            phone, code_field(), invite, request.user_agent.string, through_link=bool(invite), signals=request_signals()
        )
    except DomainError as error:
        return refused("code.html", error, field_of(error), **code_context("login"))
    web_session.keep(result.tokens)
    forget_code("login")
    invited_by = invitation()
    session.pop("invite", None)
    if result.created and result.profile.activated_invite_code and invited_by:
        flash(_("Welcome! You joined through the invitation of %(name)s.", name=invited_by["inviter"]))
    elif result.created:
        flash(_("Welcome! Your account is ready."))
    return redirect(url_for("web.profile"))


@bp.post("/login/resend")
@send_code_limit
def resend_code() -> Any:
    phone = session.get("login_phone")
    if phone is None:
        return redirect(url_for("web.index"))
    try:
        remember_code("login", signin.request_login_code(phone, str(get_locale())))
    except DomainError as error:
        return refused("code.html", error, **code_context("login"))
    flash(_("A new code is on its way."))
    return redirect(url_for("web.enter_code"))


@bp.get("/i/<code>")
@bp.get("/i/<code>/", endpoint="invite_link_pasted")  # a link pasted with its trailing slash
def invite_link(code: str) -> Any:
    """Someone's invite link: sign in (or up) with the code carried through, or enter it when signed in. The
    code may be typed in any case, and a link pasted from a sentence may end in a full stop."""
    owner = invites.owner_of_code(code.rstrip("."))
    if owner is None:
        abort(404)
    account = web_session.signed_in()
    if account is None or account.id != owner.id:
        count_visit(owner.id, owner.invite_code)
    if account is None:
        session["invite"] = owner.invite_code
        return page("index.html", **invitation())
    if account.id == owner.id or account.activated_invite_code is not None:
        return redirect(url_for("web.profile"))
    return page("invite.html", code=owner.invite_code, inviter=name_of(owner))


VISITED_COOKIE = "visited"
VISITS_KEPT = 20  # codes a browser's cookie remembers for the day (the oldest drop out)


def count_visit(owner_id: int, invite_code: str) -> None:
    """Count a visit of the owner's invite link once per browser per day: a cookie, for /i/ only, lists the
    codes this browser has visited today (no address is kept)."""
    today = programme.today().isoformat()
    day, _, seen = (request.cookies.get(VISITED_COOKIE) or "").partition(":")
    codes = seen.split(".") if day == today and seen else []
    if invite_code in codes:
        return
    programme.record_link_visit(owner_id)
    remembered = f"{today}:{'.'.join([*codes, invite_code][-VISITS_KEPT:])}"

    @after_this_request
    def remember(response: Response) -> Response:
        response.set_cookie(
            VISITED_COOKIE,
            remembered,
            max_age=86_400,
            path="/i/",
            httponly=True,
            samesite="Lax",
            secure=current_app.config["APP_ENV"] == "production",
        )
        return response


@bp.get("/lang/<code>")
def switch_language(code: str) -> Response:
    """Remembered in a cookie for a year; back to the page the switch was on."""
    target = request.args.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target)
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


# The profile


@bp.get("/profile")
def profile() -> Any:
    account = web_session.signed_in()
    if account is None:
        return redirect(url_for("web.index"))
    return page("profile.html", **profile_context(account))


@bp.post("/profile/names")
def update_names() -> Any:
    account = required_account()
    typed = {key: request.form.get(key) or "" for key in ("first_name", "last_name")}
    try:  # checked as the API checks them
        names = NamesSchema().load(typed)
    except ValidationError as error:
        field = next(iter(error.messages_dict), "first_name")
        return refused("profile.html", "names_too_long", field, values=typed, **profile_context(account))
    accounts.update_names(account, names)
    flash(_("Your name is saved."))
    return redirect(url_for("web.profile"))


@bp.post("/profile/invite")
def enter_invite() -> Any:
    account = required_account()
    code = (request.form.get("invite_code") or "").strip()
    try:
        profile = accounts.enter_invite_code(account, code, request_signals())
    except DomainError as error:
        typed = {"invite_code": code}
        return refused("profile.html", error, field_of(error), values=typed, **profile_context(account))
    flash(_("Done: you entered the code %(code)s.", code=profile.activated_invite_code))
    return redirect(url_for("web.profile"))


@bp.post("/profile/phone")
@send_code_limit
def request_phone_change() -> Any:
    account = required_account()
    typed = {"phone": request.form.get("phone", "")}
    try:
        new_phone = parse_phone(request.form.get("phone"))
        issued = phone_change.request_phone_change(account, new_phone, str(get_locale()))
    except InvalidPhone:
        return refused("profile.html", "invalid_phone", "phone", values=typed, **profile_context(account))
    except DomainError as error:
        return refused("profile.html", error, field_of(error), values=typed, **profile_context(account))
    remember_code("phone_change", issued)
    return redirect(url_for("web.confirm_phone"))


@bp.post("/profile/phone/resend")
@send_code_limit
def resend_phone_code() -> Any:
    account = required_account()
    new_phone = session.get("phone_change_phone")
    if new_phone is None:
        return redirect(url_for("web.profile"))
    try:
        remember_code("phone_change", phone_change.request_phone_change(account, new_phone, str(get_locale())))
    except DomainError as error:
        return refused("phone_confirm.html", error, **code_context("phone_change"))
    flash(_("A new code is on its way."))
    return redirect(url_for("web.confirm_phone"))


@bp.get("/profile/phone/confirm")
def confirm_phone() -> Any:
    required_account()
    if "phone_change_phone" not in session:
        return redirect(url_for("web.profile"))
    return page("phone_confirm.html", **code_context("phone_change"))


@bp.post("/profile/phone/confirm")
@check_code_limit
def finish_phone_change() -> Any:
    account = required_account()
    new_phone = session.get("phone_change_phone")
    if new_phone is None:
        return redirect(url_for("web.profile"))
    try:
        result = phone_change.confirm_phone_change(account, new_phone, code_field(), request.user_agent.string)
    except DomainError as error:
        return refused("phone_confirm.html", error, field_of(error), **code_context("phone_change"))
    web_session.keep(result.tokens)  # every earlier session ended, this one included
    forget_code("phone_change")
    flash(_("Your number is now %(phone)s. You were signed out everywhere else.", phone=for_people(new_phone)))
    return redirect(url_for("web.profile"))


# Their own account: devices, data, leaving


# Helpers


def invitation() -> dict[str, Any]:
    """Who invited the person signing in through an invite link, and with which code (nothing otherwise)."""
    code = session.get("invite")
    owner = invites.owner_of_code(code) if code else None
    return {"inviter": name_of(owner), "invite_code": owner.invite_code} if owner else {}


def name_of(owner: Any) -> str:
    return invites.greeting_name(owner.first_name, owner.last_name, masked_for_people(owner.phone))


def _newer_link(owner_id: int, listing: referrals.ReferralPage, first_number: int) -> str:
    """The address of the page of referrals just newer than ``listing``."""
    start = referrals.newer_page_start(owner_id, listing, PAGE_SIZE)
    if start is None:
        return url_for("web.profile") + "#referrals"
    cursor = referrals.encode_cursor(*start)
    return url_for("web.profile", after=cursor, n=max(1, first_number - PAGE_SIZE)) + "#referrals"


def profile_context(account: accounts.Account) -> dict[str, Any]:
    after = None
    cursor = request.args.get("after")
    if cursor:
        try:
            after = referrals.decode_cursor(cursor)
        except referrals.InvalidCursor:
            after = None
    number = request.args.get("n", "")
    first_number = int(number) if after is not None and number.isdecimal() and len(number) < 10 else 1
    listing = referrals.referral_page(account.id, account.referrals_count, PAGE_SIZE, after)
    link = url_for("web.invite_link", code=account.invite_code, _external=True)
    inviter = invites.inviter_phone(account.id) if account.activated_invite_code else None
    return {
        "account": account,
        "invite_link": link,
        "qr_svg": Markup(segno.make(link, error="m").svg_inline(scale=5, dark="#1d2a3a", light="#ffffff")),
        "inviter": masked_for_people(inviter) if inviter else None,
        "referrals": listing,
        "first_number": first_number,
        "newer_link": _newer_link(account.id, listing, first_number) if after is not None else None,
        "devices": sessions.devices(account.id, web_session.session_id()),
        "share_text": _("Join me on Referral with my invite code %(code)s", code=account.invite_code),
        "standing": rewards.standing_of(account),
    }

"""The pages: sign in with a phone and a code, the profile with its invite link, the invite link itself.

Each view parses a form, calls one domain function (the same ones the API's views call) and renders a template;
a refusal of a rule is shown on the page it came from, in the reader's language.
"""

from __future__ import annotations

import time
from typing import Any

import segno
from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug import Response

from referral.domain import account as accounts
from referral.domain import invites, phone_change, referrals, sessions, signin
from referral.domain.errors import DomainError
from referral.domain.phones import InvalidPhone, masked_for_people, normalise_phone
from referral.extensions import csrf
from referral.http.limits import check_code_limit, send_code_limit
from referral.http.schemas import NamesSchema
from referral.web import messages
from referral.web import session as web_session

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

PAGE_SIZE = 20
LANGUAGES = ("ru", "en")


@bp.before_request
def protect_forms() -> None:
    """Every form of the pages carries its CSRF token (Flask-WTF's, kept in the signed session cookie)."""
    if request.method == "POST":
        csrf.protect()


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def refused(template: str, error: DomainError, **context: Any) -> tuple[str, int]:
    status = 429 if error.retry_after else 422
    return page(template, status, error=messages.for_error(error), retry_after=error.retry_after, **context)


def parse_phone(raw: str | None) -> str:
    return normalise_phone((raw or "").strip(), current_app.config["DEFAULT_PHONE_REGION"])


# Signing in


@bp.get("/")
def index() -> Any:
    """The phone form; with an invite carried from /i/<code>, who invited."""
    if web_session.signed_in() is not None:
        return redirect(url_for("web.profile"))
    return page("index.html", inviter=_carried_inviter())


@bp.post("/")
@send_code_limit
def send_code() -> Any:
    try:
        phone = parse_phone(request.form.get("phone"))
        issued = signin.request_login_code(phone)
    except InvalidPhone:
        return page("index.html", 422, error=messages.BY_CODE["invalid_phone"], inviter=_carried_inviter())
    except DomainError as error:
        return refused("index.html", error, inviter=_carried_inviter(), phone=request.form.get("phone"))
    _remember_code("login", issued)
    return redirect(url_for("web.enter_code"))


@bp.get("/login/code")
def enter_code() -> Any:
    if "login_phone" not in session:
        return redirect(url_for("web.index"))
    return page("code.html", **_code_context("login"))


@bp.post("/login/code")
@check_code_limit
def check_code() -> Any:
    phone = session.get("login_phone")
    if phone is None:
        return redirect(url_for("web.index"))
    try:
        result = signin.sign_in(phone, _code_field(), session.get("invite"))
    except DomainError as error:
        return refused("code.html", error, **_code_context("login"))
    web_session.keep(result.tokens)
    _forget_code("login")
    session.pop("invite", None)
    return redirect(url_for("web.profile"))


@bp.post("/login/resend")
@send_code_limit
def resend_code() -> Any:
    phone = session.get("login_phone")
    if phone is None:
        return redirect(url_for("web.index"))
    try:
        _remember_code("login", signin.request_login_code(phone))
    except DomainError as error:
        return refused("code.html", error, **_code_context("login"))
    return redirect(url_for("web.enter_code"))


@bp.get("/i/<code>")
def invite_link(code: str) -> Any:
    """Someone's invite link: sign in (or up) with the code carried through, or enter it when signed in."""
    owner = invites.owner_of_code(code)
    if owner is None:
        abort(404)
    account = web_session.signed_in()
    if account is None:
        session["invite"] = code
        return page("index.html", inviter=masked_for_people(owner.phone))
    if account.id == owner.id or account.activated_invite_code is not None:
        return redirect(url_for("web.profile"))
    return page("invite.html", code=code, inviter=masked_for_people(owner.phone))


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
    return page("profile.html", **_profile_context(account))


@bp.post("/profile/names")
def update_names() -> Any:
    account = _required_account()
    try:  # checked as the API checks them
        names = NamesSchema().load({key: request.form.get(key) or "" for key in ("first_name", "last_name")})
    except ValidationError:
        return page("profile.html", 422, error=messages.BY_CODE["names_too_long"], **_profile_context(account))
    accounts.update_names(account, names)
    return redirect(url_for("web.profile"))


@bp.post("/profile/invite")
def enter_invite() -> Any:
    account = _required_account()
    code = (request.form.get("invite_code") or "").strip()
    try:
        accounts.enter_invite_code(account, code)
    except DomainError as error:
        return refused("profile.html", error, **_profile_context(account))
    return redirect(url_for("web.profile"))


@bp.post("/profile/phone")
@send_code_limit
def request_phone_change() -> Any:
    account = _required_account()
    try:
        new_phone = parse_phone(request.form.get("phone"))
        issued = phone_change.request_phone_change(account, new_phone)
    except InvalidPhone:
        return page("profile.html", 422, error=messages.BY_CODE["invalid_phone"], **_profile_context(account))
    except DomainError as error:
        return refused("profile.html", error, **_profile_context(account))
    _remember_code("phone_change", issued)
    return redirect(url_for("web.confirm_phone"))


@bp.get("/profile/phone/confirm")
def confirm_phone() -> Any:
    _required_account()
    if "phone_change_phone" not in session:
        return redirect(url_for("web.profile"))
    return page("phone_confirm.html", **_code_context("phone_change"))


@bp.post("/profile/phone/confirm")
@check_code_limit
def finish_phone_change() -> Any:
    account = _required_account()
    new_phone = session.get("phone_change_phone")
    if new_phone is None:
        return redirect(url_for("web.profile"))
    try:
        result = phone_change.confirm_phone_change(account, new_phone, _code_field())
    except DomainError as error:
        return refused("phone_confirm.html", error, **_code_context("phone_change"))
    web_session.keep(result.tokens)  # every earlier session ended, this one included
    _forget_code("phone_change")
    return redirect(url_for("web.profile"))


@bp.post("/logout")
def logout() -> Response:
    session_id = web_session.session_id()
    if session_id is not None:
        sessions.revoke_session(session_id)
    web_session.forget()
    session.clear()
    return redirect(url_for("web.index"))


# Helpers


def _required_account() -> accounts.Account:
    account = web_session.signed_in()
    if account is None:
        abort(401)
    return account


class CodeNotDigits(DomainError):
    code = "code_format"


def _code_field() -> str:
    code = (request.form.get("code") or "").strip()
    if not code.isdigit() or len(code) > 16:
        raise CodeNotDigits
    return code


def _remember_code(purpose: str, issued: Any) -> None:
    session[f"{purpose}_phone"] = issued.phone
    session[f"{purpose}_resend_at"] = int(time.time()) + issued.resend_in
    if current_app.config["OTP_DEBUG"]:
        session[f"{purpose}_debug_code"] = issued.code


def _forget_code(purpose: str) -> None:
    for key in ("phone", "resend_at", "debug_code"):
        session.pop(f"{purpose}_{key}", None)


def _code_context(purpose: str) -> dict[str, Any]:
    wait = max(0, int(session.get(f"{purpose}_resend_at", 0)) - int(time.time()))
    return {
        "phone": session.get(f"{purpose}_phone"),
        "debug_code": session.get(f"{purpose}_debug_code"),
        "resend_in": wait,
        "code_length": current_app.config["OTP_LENGTH"],
    }


def _carried_inviter() -> str | None:
    code = session.get("invite")
    owner = invites.owner_of_code(code) if code else None
    return masked_for_people(owner.phone) if owner else None


def _profile_context(account: accounts.Account) -> dict[str, Any]:
    after = None
    cursor = request.args.get("after")
    if cursor:
        try:
            after = referrals.decode_cursor(cursor)
        except referrals.InvalidCursor:
            after = None
    listing = referrals.referral_page(account.id, account.referrals_count, PAGE_SIZE, after)
    link = url_for("web.invite_link", code=account.invite_code, _external=True)
    inviter = invites.inviter_phone(account.id) if account.activated_invite_code else None
    return {
        "account": account,
        "invite_link": link,
        "qr_svg": Markup(segno.make(link, error="m").svg_inline(scale=5, dark="#1d2a3a", light="#ffffff")),
        "inviter": masked_for_people(inviter) if inviter else None,
        "referrals": listing,
    }

"""The pages: sign in with a phone and a code, the profile with its invite link, the invite link itself.

Each view parses a form, calls one domain function (the same ones the API's views call) and renders a template;
a refusal of a rule is shown on the page it came from, in the reader's language.
"""

from __future__ import annotations

import time
from typing import Any

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug import Response

from referral.domain import account as accounts
from referral.domain import invites, phone_change, referrals, sessions, signin
from referral.domain.errors import DomainError
from referral.domain.phones import InvalidPhone, for_people, masked_for_people, normalise_phone
from referral.extensions import csrf
from referral.http.export import export_json
from referral.http.limits import check_code_limit, send_code_limit
from referral.http.problems import UNAVAILABLE
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


def refused(template: str, error: DomainError | str, field: str | None = None, **context: Any) -> tuple[str, int]:
    """The page again with the refusal: beside ``field`` (marked invalid and focused) when it is about one, at
    the top otherwise; what was typed stays in the form (``values``)."""
    if isinstance(error, str):
        return page(template, 422, error=messages.BY_CODE[error], error_field=field, **context)
    status = 429 if error.retry_after else 422
    text = messages.for_error(error)
    return page(template, status, error=text, error_field=field, retry_after=error.retry_after, **context)


# Which field of its form each refusal is about (the rest are about the form as a whole).
FIELD_OF_ERROR = {
    "invalid_phone": "phone",
    "phone_region_not_allowed": "phone",
    "phone_taken": "phone",
    "phone_unchanged": "phone",
    "code_invalid": "code",
    "code_format": "code",
    "code_expired": "code",
    "invite_code_not_found": "invite_code",
    "invite_code_own": "invite_code",
    "invite_cycle": "invite_code",
}


def field_of(error: DomainError) -> str | None:
    return FIELD_OF_ERROR.get(error.code)


def parse_phone(raw: str | None) -> str:
    return normalise_phone((raw or "").strip(), current_app.config["DEFAULT_PHONE_REGION"])


# Signing in


@bp.get("/")
def index() -> Any:
    """The phone form; with an invite carried from /i/<code>, who invited."""
    if web_session.signed_in() is not None:
        return redirect(url_for("web.profile"))
    return page("index.html", **_invitation())


@bp.post("/")
@send_code_limit
def send_code() -> Any:
    typed = {"phone": request.form.get("phone", "")}
    try:
        phone = parse_phone(request.form.get("phone"))
        issued = signin.request_login_code(phone, str(get_locale()))
    except InvalidPhone:
        return refused("index.html", "invalid_phone", "phone", values=typed, **_invitation())
    except DomainError as error:
        return refused("index.html", error, field_of(error), values=typed, **_invitation())
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
        result = signin.sign_in(phone, _code_field(), session.get("invite"), request.user_agent.string)
    except DomainError as error:
        return refused("code.html", error, field_of(error), **_code_context("login"))
    web_session.keep(result.tokens)
    _forget_code("login")
    invitation = _invitation()
    session.pop("invite", None)
    if result.created and result.profile.activated_invite_code and invitation:
        flash(_("Welcome! You joined through the invitation of %(name)s.", name=invitation["inviter"]))
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
        _remember_code("login", signin.request_login_code(phone, str(get_locale())))
    except DomainError as error:
        return refused("code.html", error, **_code_context("login"))
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
    if account is None:
        session["invite"] = owner.invite_code
        return page("index.html", **_invitation())
    if account.id == owner.id or account.activated_invite_code is not None:
        return redirect(url_for("web.profile"))
    return page("invite.html", code=owner.invite_code, inviter=_name_of(owner))


# The page a form of each POST address lives on: a page drawn by a POST (a refused form) switches language,
# and is returned to, by this address (a GET of the POST address would be a 405).
PAGE_OF_FORM = {
    "web.send_code": "web.index",
    "web.check_code": "web.enter_code",
    "web.resend_code": "web.enter_code",
    "web.update_names": "web.profile",
    "web.enter_invite": "web.profile",
    "web.request_phone_change": "web.profile",
    "web.finish_phone_change": "web.confirm_phone",
    "web.resend_phone_code": "web.confirm_phone",
    "web.delete_account": "web.profile",
    "web.finish_deletion": "web.confirm_deletion",
}


def signed_in_here() -> bool:
    """Whether the page is drawn for someone signed in (the header's "Log out"); error pages ask too."""
    if not request.blueprint == "web" and request.endpoint is not None:
        return False
    try:
        return web_session.signed_in() is not None
    except UNAVAILABLE:  # an error page drawn because the database is down: no header button then
        return False


def this_page() -> str:
    """The address of the page being drawn, as a GET can reach it again."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    return url_for(PAGE_OF_FORM.get(request.endpoint or "", "web.index"))


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
    typed = {key: request.form.get(key) or "" for key in ("first_name", "last_name")}
    try:  # checked as the API checks them
        names = NamesSchema().load(typed)
    except ValidationError as error:
        field = next(iter(error.messages_dict), "first_name")
        return refused("profile.html", "names_too_long", field, values=typed, **_profile_context(account))
    accounts.update_names(account, names)
    flash(_("Your name is saved."))
    return redirect(url_for("web.profile"))


@bp.post("/profile/invite")
def enter_invite() -> Any:
    account = _required_account()
    code = (request.form.get("invite_code") or "").strip()
    try:
        profile = accounts.enter_invite_code(account, code)
    except DomainError as error:
        typed = {"invite_code": code}
        return refused("profile.html", error, field_of(error), values=typed, **_profile_context(account))
    flash(_("Done: you entered the code %(code)s.", code=profile.activated_invite_code))
    return redirect(url_for("web.profile"))


@bp.post("/profile/phone")
@send_code_limit
def request_phone_change() -> Any:
    account = _required_account()
    typed = {"phone": request.form.get("phone", "")}
    try:
        new_phone = parse_phone(request.form.get("phone"))
        issued = phone_change.request_phone_change(account, new_phone, str(get_locale()))
    except InvalidPhone:
        return refused("profile.html", "invalid_phone", "phone", values=typed, **_profile_context(account))
    except DomainError as error:
        return refused("profile.html", error, field_of(error), values=typed, **_profile_context(account))
    _remember_code("phone_change", issued)
    return redirect(url_for("web.confirm_phone"))


@bp.post("/profile/phone/resend")
@send_code_limit
def resend_phone_code() -> Any:
    account = _required_account()
    new_phone = session.get("phone_change_phone")
    if new_phone is None:
        return redirect(url_for("web.profile"))
    try:
        _remember_code("phone_change", phone_change.request_phone_change(account, new_phone, str(get_locale())))
    except DomainError as error:
        return refused("phone_confirm.html", error, **_code_context("phone_change"))
    flash(_("A new code is on its way."))
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
        result = phone_change.confirm_phone_change(account, new_phone, _code_field(), request.user_agent.string)
    except DomainError as error:
        return refused("phone_confirm.html", error, field_of(error), **_code_context("phone_change"))
    web_session.keep(result.tokens)  # every earlier session ended, this one included
    _forget_code("phone_change")
    flash(_("Your number is now %(phone)s. You were signed out everywhere else.", phone=for_people(new_phone)))
    return redirect(url_for("web.profile"))


# Their own account: devices, data, leaving


@bp.post("/profile/sessions/<session_id>/end")
def end_device(session_id: str) -> Response:
    account = _required_account()
    try:
        sessions.end_device(account.id, session_id)
    except DomainError:
        pass  # ended a moment ago in another tab: the list below says how things stand
    if session_id == web_session.session_id():
        return logout_done()
    flash(_("That device is signed out."))
    return redirect(url_for("web.profile") + "#devices")


@bp.post("/profile/sessions/end-others")
def end_other_devices() -> Response:
    account = _required_account()
    current = web_session.session_id()
    ended = sessions.end_other_devices(account.id, current) if current else 0
    flash(ngettext("%(num)d other device is signed out.", "%(num)d other devices are signed out.", ended))
    return redirect(url_for("web.profile") + "#devices")


@bp.get("/profile/export")
def export_data() -> Response:
    account = _required_account()
    body = stream_with_context(export_json(account, web_session.session_id()))
    disposition = 'attachment; filename="referral-data.json"'
    return Response(body, mimetype="application/json", headers={"Content-Disposition": disposition})


@bp.post("/profile/delete")
@send_code_limit
def delete_account() -> Any:
    account = _required_account()
    try:
        _remember_code("account_deletion", accounts.request_deletion(account, str(get_locale())))
    except DomainError as error:
        return refused("profile.html", error, **_profile_context(account))
    return redirect(url_for("web.confirm_deletion"))


@bp.get("/profile/delete/confirm")
def confirm_deletion() -> Any:
    _required_account()
    if "account_deletion_phone" not in session:
        return redirect(url_for("web.profile"))
    return page("delete_confirm.html", **_code_context("account_deletion"))


@bp.post("/profile/delete/confirm")
@check_code_limit
def finish_deletion() -> Any:
    account = _required_account()
    try:
        accounts.confirm_deletion(account, _code_field())
    except DomainError as error:
        return refused("delete_confirm.html", error, field_of(error), **_code_context("account_deletion"))
    web_session.forget()
    session.clear()
    flash(_("Your account is deleted. The people you invited keep theirs."))
    return redirect(url_for("web.index"))


@bp.post("/logout")
def logout() -> Response:
    session_id = web_session.session_id()
    if session_id is not None:
        sessions.revoke_session(session_id)
    return logout_done()


def logout_done() -> Response:
    web_session.forget()
    session.clear()
    flash(_("You are signed out."))
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


def _invitation() -> dict[str, Any]:
    """Who invited the person signing in through an invite link, and with which code (nothing otherwise)."""
    code = session.get("invite")
    owner = invites.owner_of_code(code) if code else None
    return {"inviter": _name_of(owner), "invite_code": owner.invite_code} if owner else {}


def _name_of(owner: Any) -> str:
    return invites.greeting_name(owner.first_name, owner.last_name, masked_for_people(owner.phone))


def _profile_context(account: accounts.Account) -> dict[str, Any]:
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
        "devices": sessions.devices(account.id, web_session.session_id()),
        "share_text": _("Join me on Referral with my invite code %(code)s", code=account.invite_code),
    }

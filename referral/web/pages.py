"""What every page shares: the blueprint, refusals drawn beside their field, the page a form lives on, the code
in progress kept in the signed session, and who is signed in."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug import Response

from referral.domain import account as accounts
from referral.domain.errors import DomainError
from referral.domain.phones import normalise_phone
from referral.extensions import csrf
from referral.http.problems import UNAVAILABLE
from referral.web import messages
from referral.web import session as web_session

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

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
    "console.send_code": "console.login",
    "console.check_code": "console.enter_code",
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


def required_account() -> accounts.Account:
    account = web_session.signed_in()
    if account is None:
        abort(401)
    return account


class CodeNotDigits(DomainError):
    code = "code_format"


def code_field() -> str:
    code = (request.form.get("code") or "").strip()
    if not code.isdigit() or len(code) > 16:
        raise CodeNotDigits
    return code


def remember_code(purpose: str, issued: Any) -> None:
    session[f"{purpose}_phone"] = issued.phone
    session[f"{purpose}_resend_at"] = int(time.time()) + issued.resend_in
    if current_app.config["OTP_DEBUG"]:
        session[f"{purpose}_debug_code"] = issued.code


def forget_code(purpose: str) -> None:
    for key in ("phone", "resend_at", "debug_code"):
        session.pop(f"{purpose}_{key}", None)


def code_context(purpose: str) -> dict[str, Any]:
    wait = max(0, int(session.get(f"{purpose}_resend_at", 0)) - int(time.time()))
    return {
        "phone": session.get(f"{purpose}_phone"),
        "debug_code": session.get(f"{purpose}_debug_code"),
        "resend_in": wait,
        "code_length": current_app.config["OTP_LENGTH"],
    }


def logout_done() -> Response:
    web_session.forget()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("web.index"))

"""The console's door: sign-in with a phone, its SMS code and an authenticator code; the console session's
cookie (its own, scoped to /admin); who may see what.

Anyone not signed in as staff is sent from /admin to /admin/login, and meets every other console address as
an unknown page (a 404): the console does not tell what it holds. A member whose role lacks an action gets a
403 page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug import Response

from referral.domain import staff
from referral.domain.errors import DomainError
from referral.domain.phones import InvalidPhone
from referral.extensions import csrf
from referral.http.limits import check_code_limit, send_code_limit
from referral.web.pages import (
    code_context,
    code_field,
    field_of,
    forget_code,
    page,
    parse_phone,
    refused,
    remember_code,
)

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

COOKIE = "console_session"
PURPOSE = "console_signin"
OPEN_TO_ALL = frozenset(
    {"console.login", "console.send_code", "console.enter_code", "console.check_code", "console.static"}
)
View = TypeVar("View", bound=Callable[..., Any])


@bp.before_request
def admit() -> Response | None:
    """The console session's staff member on ``g.staff``, or the door (before anything else: an outsider's form
    is an unknown page too); then CSRF on every form."""
    g.staff = staff.console_staff(request.cookies.get(COOKIE))
    if g.staff is None and request.endpoint not in OPEN_TO_ALL:
        if request.endpoint == "console.overview":
            return redirect(url_for("console.login"))
        abort(404)
    if request.method == "POST":
        csrf.protect()
    return None


def requires(action: str) -> Callable[[View], View]:
    """Only for staff whose role may do ``action`` (``domain/staff.py``, ACTIONS_OF_ROLE)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not g.staff.may(action):
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


@bp.after_request
def keep_cookie(response: Response) -> Response:
    """The console session's cookie: HttpOnly, SameSite=Strict, for /admin only, Secure in production."""
    token = g.pop("new_console_token", None)
    secure = current_app.config["APP_ENV"] == "production"
    common: dict[str, Any] = {"httponly": True, "samesite": "Strict", "secure": secure, "path": "/admin"}
    if token is not None:
        response.set_cookie(COOKIE, token, max_age=current_app.config["CONSOLE_LIFETIME_SECONDS"], **common)
    elif g.pop("end_console_cookie", False):
        response.delete_cookie(COOKIE, **common)
    return response


@bp.get("/login")
def login() -> Any:
    """The phone number of a member of staff."""
    if g.staff is not None:
        return redirect(url_for("console.overview"))
    return page("console/login.html")


@bp.post("/login")
@send_code_limit
def send_code() -> Any:
    typed = {"phone": request.form.get("phone", "")}
    try:
        phone = parse_phone(request.form.get("phone"))
        issued = staff.request_console_code(phone, str(get_locale()))
    except InvalidPhone:
        return refused("console/login.html", "invalid_phone", "phone", values=typed)
    except DomainError as error:
        return refused("console/login.html", error, field_of(error), values=typed)
    remember_code(PURPOSE, issued)
    return redirect(url_for("console.enter_code"))


@bp.get("/login/code")
def enter_code() -> Any:
    """The SMS code and the authenticator code."""
    if f"{PURPOSE}_phone" not in session:
        return redirect(url_for("console.login"))
    return page("console/code.html", **code_context(PURPOSE))


@bp.post("/login/code")
@check_code_limit
def check_code() -> Any:
    phone = session.get(f"{PURPOSE}_phone")
    if phone is None:
        return redirect(url_for("console.login"))
    try:
        token = staff.sign_in_to_console(phone, code_field(), request.form.get("authenticator", ""))
    except DomainError as error:
        field = "authenticator" if error.code == "authenticator_code_invalid" else field_of(error)
        return refused("console/code.html", error, field, **code_context(PURPOSE))
    forget_code(PURPOSE)
    g.new_console_token = token
    flash(_("You are signed in to the console."))
    return redirect(url_for("console.overview"))


@bp.post("/logout")
def logout() -> Response:
    staff.sign_out_of_console(g.staff)
    g.end_console_cookie = True
    flash(_("You are signed out of the console."))
    return redirect(url_for("console.login"))

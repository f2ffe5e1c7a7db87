"""The pages people use in a browser: sign in, the profile with its invite link, the invite link itself.

A third blueprint beside the API's, calling the same domain functions; server-rendered, working without
JavaScript, in Russian and English (Flask-Babel), CSRF-protected forms (Flask-WTF), the API's own sessions and
tokens carried in HttpOnly cookies (``session.py``).
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, Response, current_app, request
from flask_babel import format_date, format_datetime, get_locale
from markupsafe import Markup

from referral.domain.phones import for_people
from referral.extensions import babel, csrf
from referral.http.signals import DEVICE_COOKIE, DEVICE_ID, new_device_id
from referral.web import own_data, views  # noqa: F401  (their routes join the blueprint)
from referral.web import session as web_session
from referral.web.errors import is_page, register_error_pages
from referral.web.pages import LANGUAGES, bp, signed_in_here, this_page

# No inline script or style: the copy button and the countdown are /assets/site.js.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def register_web(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # the pages' forms only: the API takes bearer tokens
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "web/translations")
    csrf.init_app(app)
    babel.init_app(app, locale_selector=choose_language)
    app.register_blueprint(bp)
    app.after_request(finish_page)
    app.teardown_request(web_session.end_page)
    app.context_processor(
        lambda: {
            "locale": str(get_locale()),
            "languages": LANGUAGES,
            "this_page": this_page,
            "signed_in_here": signed_in_here,
        }
    )
    app.add_template_filter(for_people, "phone")
    app.add_template_filter(time_tag, "time_tag")
    app.add_template_filter(moment_tag, "moment_tag")
    register_error_pages(app)


def time_tag(moment: date) -> Markup:
    """``<time>`` with the date in the page's language (UTC); the pages' script redraws it in the reader's zone."""
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), format_date(moment, "medium"))


def moment_tag(moment: datetime) -> Markup:
    """``<time>`` with the date and the time of day (UTC), redrawn by the script in the reader's zone."""
    shown = format_datetime(moment, "medium") + " UTC"
    return Markup('<time datetime="{}" data-moment>{}</time>').format(moment.isoformat(), shown)


def choose_language() -> str:
    """The language switched to (a cookie), else the browser's, else English."""
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def finish_page(response: Response) -> Response:
    if not is_page():
        return response
    web_session.write_cookies(response)
    if request.endpoint != "web.static" and not DEVICE_ID.fullmatch(request.cookies.get(DEVICE_COOKIE, "")):
        # A random id of this browser for the fraud rules (two accounts from one browser), kept a year.
        secure = current_app.config["APP_ENV"] == "production"
        response.set_cookie(
            DEVICE_COOKIE, new_device_id(), max_age=365 * 86400, path="/", httponly=True, samesite="Lax", secure=secure
        )
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.endpoint != "web.static":
        response.headers.setdefault("Cache-Control", "no-store")  # pages hold codes and personal data
    return response

"""What people do with their own account on the pages: see and sign out their devices, download their data,
delete the account (confirmed by a fresh SMS code), log out."""

from __future__ import annotations

from typing import Any

from flask import (
    flash,
    redirect,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from werkzeug import Response

from referral.domain import account as accounts
from referral.domain import sessions
from referral.domain.errors import DomainError
from referral.http.export import export_json
from referral.http.limits import check_code_limit, send_code_limit
from referral.web import session as web_session
from referral.web.pages import (
    bp,
    code_context,
    code_field,
    field_of,
    logout_done,
    page,
    refused,
    remember_code,
    required_account,
)
from referral.web.views import profile_context


@bp.post("/profile/sessions/<session_id>/end")
def end_device(session_id: str) -> Response:
    account = required_account()
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
    account = required_account()
    current = web_session.session_id()
    ended = sessions.end_other_devices(account.id, current) if current else 0
    flash(ngettext("%(num)d other device is signed out.", "%(num)d other devices are signed out.", ended))
    return redirect(url_for("web.profile") + "#devices")


@bp.get("/profile/export")
def export_data() -> Response:
    account = required_account()
    body = stream_with_context(export_json(account, web_session.session_id()))
    disposition = 'attachment; filename="referral-data.json"'
    return Response(body, mimetype="application/json", headers={"Content-Disposition": disposition})


@bp.post("/profile/delete")
@send_code_limit
def delete_account() -> Any:
    account = required_account()
    try:
        remember_code("account_deletion", accounts.request_deletion(account, str(get_locale())))
    except DomainError as error:
        return refused("profile.html", error, **profile_context(account))
    return redirect(url_for("web.confirm_deletion"))


@bp.get("/profile/delete/confirm")
def confirm_deletion() -> Any:
    required_account()
    if "account_deletion_phone" not in session:
        return redirect(url_for("web.profile"))
    return page("delete_confirm.html", **code_context("account_deletion"))


@bp.post("/profile/delete/confirm")
@check_code_limit
def finish_deletion() -> Any:
    account = required_account()
    try:
        accounts.confirm_deletion(account, code_field())
    except DomainError as error:
        return refused("delete_confirm.html", error, field_of(error), **code_context("account_deletion"))
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

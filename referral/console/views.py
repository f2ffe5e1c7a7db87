"""The console's pages: the overview, the users and one user with what support may do about them, the audit
log and the staff. Each view parses, calls one domain function, renders."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import segno
from flask import abort, flash, g, redirect, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from werkzeug import Response

from referral.console.charts import Series, axis, stacked_bars
from referral.console.door import bp, requires
from referral.console.words import word
from referral.domain import deliveries, programme, review, staff, support
from referral.domain.errors import DomainError
from referral.domain.phones import InvalidPhone, for_people, masked_for_people
from referral.web.messages import for_error
from referral.web.pages import page, parse_phone, refused

REASON_LENGTH = 500


@bp.get("/")
def overview() -> Any:
    """Is the programme working? The figures of the last 7, 30 or 90 days."""
    range_days = request.args.get("days", "30")
    days = int(range_days) if range_days.isdecimal() and int(range_days) in programme.RANGES else 30
    figures = programme.overview(days)
    labels = axis([day.day for day in figures.days])
    charts = {
        "signups": stacked_bars(
            labels,
            [
                Series(_("Organic"), [d.figures.signups_organic for d in figures.days], "organic"),
                Series(_("Referred"), [d.figures.signups_referred for d in figures.days], "referred"),
            ],
            _("Sign-ups per day"),
        ),
        "activations": stacked_bars(
            labels,
            [
                Series(_("Through a link"), [d.figures.activations_link for d in figures.days], "link"),
                Series(_("Code at sign-up"), [d.figures.activations_code_at_signup for d in figures.days], "typed"),
                Series(_("Code later"), [d.figures.activations_code_later for d in figures.days], "later"),
            ],
            _("Referrals per day"),
        ),
        "sms": stacked_bars(
            labels,
            [
                Series(
                    _("Delivered or on the way"),
                    [d.figures.sms_sent - d.figures.sms_failed for d in figures.days],
                    "sent",
                ),
                Series(_("Failed"), [d.figures.sms_failed for d in figures.days], "failed"),
            ],
            _("SMS per day"),
        ),
    }
    return page(
        "console/overview.html",
        figures=figures,
        charts=charts,
        ranges=programme.RANGES,
        masked=masked_for_people,
        states=review.counts(),
        reward_counts=review.reward_counts(),
    )


def _instant(raw: str | None, end_of_day: bool = False) -> datetime | None:
    """A date typed in a filter (YYYY-MM-DD) as the instant its day starts (or, ``end_of_day``, ends), UTC."""
    try:
        day = datetime.strptime((raw or "").strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if end_of_day else day


def whole_number(raw: str | None, most_digits: int = 18) -> int | None:
    """A whole number typed in a form or a query (an id fits in 18 digits), else ``None``."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdecimal() and len(raw) <= most_digits else None


def _search(args: Mapping[str, str]) -> support.Search:
    return support.Search(
        text=args.get("q", "")[:64],
        invited={"yes": True, "no": False}.get(args.get("invited", "")),
        invited_by=whole_number(args.get("invited_by")),
        joined_from=_instant(args.get("from")),
        joined_until=_instant(args.get("until"), end_of_day=True),
    )


@bp.get("/users")
def users() -> Any:
    """Users: search by any part of a phone, an invite code or a name; filters; newest first, a page at a time."""
    args = request.args
    found = support.find_users(_search(args), before=whole_number(args.get("before")))
    older = None
    if len(found) == support.PAGE_SIZE:
        kept: dict[str, Any] = {**args.to_dict(), "before": found[-1].id}
        older = url_for("console.users", **kept)
    return page("console/users.html", found=found, older=older, masked=masked_for_people, args=args)


@bp.get("/users/<int:user_id>")
def user(user_id: int) -> Any:
    """One user, whole (recorded: it shows the full phone number)."""
    depth = whole_number(request.args.get("depth"))
    try:
        opened = support.open_user(g.staff, user_id, depth if depth in support.TREE_DEPTHS else 1)
    except DomainError:
        abort(404)
    return page("console/user.html", file=opened, masked=masked_for_people, depths=support.TREE_DEPTHS)


def form_reason() -> str | None:
    """The form's reason, if one was given (the domain says where one is required)."""
    return (request.form.get("reason") or "").strip()[:REASON_LENGTH] or None


def done_on_user_page(user_id: int, message: str) -> Response:
    """Back to the user's page, saying what was done."""
    flash(message)
    return redirect(url_for("console.user", user_id=user_id))


def refused_on_user_page(user_id: int, message: str) -> Response:
    """Back to the user's page, saying why not."""
    flash(message, "error")
    return redirect(url_for("console.user", user_id=user_id))


@bp.post("/users/<int:user_id>/sessions/revoke")
@requires("revoke_sessions")
def revoke_sessions(user_id: int) -> Response:
    """End every session of the user (a reason is required)."""
    try:
        support.revoke_sessions(g.staff, user_id, form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    return done_on_user_page(user_id, _("Every session of this user has ended."))


@bp.post("/users/<int:user_id>/sessions/<session_id>/revoke")
@requires("revoke_sessions")
def revoke_session(user_id: int, session_id: str) -> Response:
    """End one session of the user (a reason is required)."""
    try:
        support.end_session(g.staff, user_id, session_id[:64], form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    return done_on_user_page(user_id, _("That session has ended."))


@bp.post("/users/<int:user_id>/lockout/lift")
@requires("lift_lockout")
def lift_lockout(user_id: int) -> Response:
    """Lift the lockout of the user's phone."""
    try:
        lifted = support.lift_lockout(g.staff, user_id, form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    return done_on_user_page(user_id, _("The lockout is lifted.") if lifted else _("The phone was not locked."))


@bp.get("/audit")
def audit() -> Any:
    """The audit log, newest first; read-only."""
    entries = staff.audit_entries(100, whole_number(request.args.get("before")))
    older = url_for("console.audit", before=entries[-1].id) if len(entries) == 100 else None
    return page("console/audit.html", entries=entries, older=older)


@bp.get("/staff")
@requires("manage_staff")
def staff_list() -> Any:
    """Who is staff (granted and revoked from the shell: ``flask staff``)."""
    return page("console/staff.html", members=staff.all_staff())


@bp.post("/users/<int:user_id>/block")
@requires("block")
def block(user_id: int) -> Response:
    """Block the user (a reason is required): sessions end, no sign-in, their invite code is nobody's."""
    try:
        support.block(g.staff, user_id, form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    return done_on_user_page(
        user_id, _("The user is blocked: signed out everywhere, and their invite code is refused.")
    )


@bp.post("/users/<int:user_id>/unblock")
@requires("block")
def unblock(user_id: int) -> Response:
    """Unblock the user."""
    try:
        support.unblock(g.staff, user_id, form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    return done_on_user_page(user_id, _("The user is unblocked."))


@bp.post("/users/<int:user_id>/referral/undo")
@requires("undo_referral")
def undo_referral(user_id: int) -> Response:
    """Detach the user from their inviter (a reason is required)."""
    try:
        undone = support.undo_referral(g.staff, user_id, form_reason())
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    if not undone:
        return refused_on_user_page(user_id, _("This user has no inviter."))
    return done_on_user_page(
        user_id, _("The referral is undone: the inviter counts one fewer, and the user may enter another code.")
    )


@bp.post("/users/<int:user_id>/delete")
@requires("delete_user")
def delete_user(user_id: int) -> Response:
    """Delete the user for good (a reason, and their phone typed again, are required)."""
    try:
        detached = support.delete_user(g.staff, user_id, form_reason(), request.form.get("confirm", ""))
    except DomainError as error:
        return refused_on_user_page(user_id, for_error(error))
    flash(_("The user is deleted; %(n)s referrals were detached.", n=detached))
    return redirect(url_for("console.users"))


@bp.post("/users.csv")
@requires("export")
def export_users() -> Response:
    """The users that match the filters as CSV, streamed, newest first (the export is recorded)."""
    search = _search(request.form)
    rows = support.export_users(g.staff, search)

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["id", "phone", "first_name", "last_name", "invite_code", "invited_by_id", "created_at", "blocked_at"]
        )
        for row in rows:
            writer.writerow(
                [
                    row.id,
                    row.phone,
                    row.first_name,
                    row.last_name,
                    row.invite_code,
                    row.invited_by_id or "",
                    row.created_at.isoformat(),
                    row.blocked_at.isoformat() if row.blocked_at else "",
                ]
            )
            if out.tell() > 64 * 1024:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    headers = {"Content-Disposition": 'attachment; filename="users.csv"'}
    return Response(stream_with_context(lines()), mimetype="text/csv", headers=headers)


@bp.get("/deliveries")
def deliveries_page() -> Any:
    """SMS by hour and status and by number range, the latest failures; webhook deliveries that gave up."""
    report = deliveries.report()
    hours = axis([start for start, _counts in report.hours], hourly=True)
    chart = stacked_bars(
        hours,
        [
            Series(word(status, "sms"), [counts.get(status, 0) for _hour, counts in report.hours], f"sms-{status}")
            for status in deliveries.SMS_STATUSES
        ],
        _("SMS per hour, the last 48 hours"),
    )
    return page("console/deliveries.html", report=report, chart=chart, masked=masked_for_people)


@bp.post("/webhooks/<event_id>/replay")
@requires("replay_webhook")
def replay_webhook(event_id: str) -> Response:
    """Deliver an event again to every endpoint that wants its type."""
    urls = deliveries.replay(g.staff, event_id[:40])
    if urls is None:
        flash(_("There is no such event."), "error")
    else:
        flash(
            ngettext(
                "The event goes out again to %(num)d endpoint.",
                "The event goes out again to %(num)d endpoints.",
                len(urls),
            )
        )
    return redirect(url_for("console.deliveries_page"))


@bp.post("/webhooks/endpoints/enable")
@requires("replay_webhook")
def enable_endpoint() -> Response:
    """Deliver to an endpoint again after it answered 410 Gone."""
    url = (request.form.get("url") or "")[:2048]
    if deliveries.enable_endpoint(g.staff, url):
        flash(_("The endpoint gets new events again."))
    else:
        flash(_("That endpoint was not disabled."), "error")
    return redirect(url_for("console.deliveries_page"))


@bp.post("/staff")
@requires("manage_staff")
def grant_staff() -> Any:
    """Make someone staff; a new member's authenticator QR code is shown on this page, once."""
    role = request.form.get("role", "")
    typed = {"phone": request.form.get("phone", "")}
    if role not in staff.ROLES:
        abort(400)
    try:
        granted = staff.grant(parse_phone(request.form.get("phone")), role, by=g.staff)
    except InvalidPhone:
        return refused("console/staff.html", "invalid_phone", "phone", values=typed, members=staff.all_staff())
    qr = None
    if granted.new_secret:
        qr = Markup(
            segno.make(granted.provisioning_uri, error="m").svg_inline(scale=4, dark="#1d2a3a", light="#ffffff")
        )
    return page("console/staff.html", members=staff.all_staff(), granted=granted, qr=qr)


@bp.post("/staff/<int:user_id>/revoke")
@requires("manage_staff")
def revoke_staff(user_id: int) -> Response:
    """No longer staff (a reason is required); their console sessions end at once. Not oneself."""
    member = next((m for m in staff.all_staff() if m.user_id == user_id), None)
    reason = form_reason()
    if member is None or reason is None or not staff.revoke(member.phone, by=g.staff, reason=reason):
        flash(_("Say why, and you cannot revoke yourself here."), "error")
    else:
        flash(_("%(phone)s is no longer staff.", phone=for_people(member.phone)))
    return redirect(url_for("console.staff_list"))

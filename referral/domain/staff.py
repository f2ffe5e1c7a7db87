"""Staff and the console's door: roles granted from the shell, sign-in with an SMS code and an authenticator
code (TOTP), console sessions with an idle timeout and an absolute lifetime, and the audit log every staff
action writes to."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
from flask import current_app

from referral import clock
from referral.domain import codes, defences
from referral.domain.errors import AccountBlocked, AuthenticatorCodeInvalid, CodeExpired, ReasonRequired
from referral.domain.signin import count_and_announce, sign_up
from referral.extensions import db
from referral.infra import audit_log, staff_access
from referral.infra.models import STAFF_ROLES
from referral.infra.staff_access import StaffMember
from referral.logs import client_ip

ROLES = STAFF_ROLES
# What each role may do beyond reading: support helps people, admin also changes and removes them.
SUPPORT_ACTIONS = frozenset({"revoke_sessions", "lift_lockout", "replay_webhook", "review_referral", "fulfil_reward"})
ADMIN_ACTIONS = SUPPORT_ACTIONS | {
    "block",
    "undo_referral",
    "delete_user",
    "export",
    "manage_staff",
    "manage_rewards",
    "trust_inviter",
}
ACTIONS_OF_ROLE = {"support": SUPPORT_ACTIONS, "admin": ADMIN_ACTIONS}
# Authenticator codes of the step before and after the current one are taken too (clocks drift by seconds).
TOTP_DRIFT_STEPS = 1
# A console session's last use is written at most this often (each request reads it).
TOUCH_EVERY = timedelta(seconds=60)
ISSUER = "Referral console"


@dataclass(frozen=True)
class ConsoleStaff:
    """Who is signed in to the console, on which session (the SHA-256 of the cookie's token)."""

    user_id: int
    phone: str
    role: str
    session_id: str

    def may(self, action: str) -> bool:
        return action in ACTIONS_OF_ROLE[self.role]


@dataclass(frozen=True)
class Grant:
    member: StaffMember
    provisioning_uri: str  # for an authenticator app (a QR code of it)
    new_secret: bool


def grant(phone: str, role: str, by: ConsoleStaff | None = None) -> Grant:
    """Make the user of ``phone`` (created if there is none) staff with ``role``; a new member gets a fresh
    authenticator secret, an existing one keeps theirs and gets the new role. ``by``: the admin who did it in
    the console (recorded with it); none from the shell."""
    member = staff_access.staff_of_phone(phone)
    if member is not None:
        staff_access.change_role(member.user_id, role)
        if by is not None:
            record(by, "staff.role_changed", member.user_id, member.phone, role=role)
        db.session.commit()
        member = member._replace(role=role)
        return Grant(member, _provisioning_uri(member), new_secret=False)
    joined = sign_up(phone)
    if joined.created:
        count_and_announce(joined)
    staff_access.grant(joined.account.id, role, pyotp.random_base32(), clock.utcnow())
    if by is not None:
        record(by, "staff.granted", joined.account.id, phone, role=role)
    db.session.commit()
    member = staff_access.staff_of_phone(phone)
    assert member is not None
    return Grant(member, _provisioning_uri(member), new_secret=True)


def revoke(phone: str, by: ConsoleStaff | None = None, reason: str | None = None) -> bool:
    """No longer staff: their console sessions end with the row, at once. Whether they were staff. An admin
    cannot revoke themselves in the console (the shell can)."""
    member = staff_access.staff_of_phone(phone)
    if member is None or (by is not None and by.user_id == member.user_id):
        return False
    staff_access.revoke(member.user_id)
    if by is not None:
        record(by, "staff.revoked", member.user_id, member.phone, reason)
    db.session.commit()
    return True


def all_staff() -> list[StaffMember]:
    return staff_access.all_staff()


def _provisioning_uri(member: StaffMember) -> str:
    return pyotp.TOTP(member.totp_secret).provisioning_uri(name=member.phone, issuer_name=ISSUER)


def request_console_code(phone: str, language: str | None) -> codes.IssuedCode:
    """Send a console code to ``phone`` if it is staff's. To anyone else the answer looks the same and nothing
    is sent, so that the console does not tell who its staff are."""
    if staff_access.staff_of_phone(phone) is None:
        config = current_app.config
        return codes.IssuedCode(phone, "", config["OTP_TTL_SECONDS"], config["OTP_RESEND_SECONDS"])
    return codes.issue_code(phone, codes.Purpose.CONSOLE_SIGNIN, language=language)


def sign_in_to_console(phone: str, sms_code: str, authenticator_code: str) -> str:
    """Spend the console code sent to ``phone`` and take the authenticator code of the same member: a new
    console session, whose token (for the cookie) is returned. A wrong authenticator code counts against the
    phone as a wrong SMS code does (its lockout), and leaves the SMS code unspent."""
    codes.consume_code(phone, sms_code, codes.Purpose.CONSOLE_SIGNIN)
    member = staff_access.staff_of_phone(phone)
    if member is None:  # revoked between the code and now
        db.session.rollback()
        raise CodeExpired
    if member.blocked:
        db.session.rollback()
        raise AccountBlocked
    step = _authenticator_step(member.totp_secret, authenticator_code)
    if step is None or not staff_access.take_totp_step(member.user_id, step):
        db.session.rollback()  # the SMS code stays unspent
        defences.record_failure(phone, clock.utcnow())
        db.session.commit()
        raise AuthenticatorCodeInvalid
    token = secrets.token_urlsafe(32)
    session_id = _session_id(token)
    staff_access.new_console_session(session_id, member.user_id, clock.utcnow(), client_ip.get())
    record(ConsoleStaff(member.user_id, member.phone, member.role, session_id), "console.signed_in")
    db.session.commit()
    return token


def _authenticator_step(secret: str, typed: str) -> int | None:
    """The time step whose code ``typed`` is, within the drift allowed; ``None`` if none."""
    typed = typed.strip().replace(" ", "")
    if not typed.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = clock.utcnow()
    current = totp.timecode(now)
    for offset in range(-TOTP_DRIFT_STEPS, TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(current + offset), typed):
            return current + offset
    return None


def console_staff(token: str | None) -> ConsoleStaff | None:
    """The staff member of a console session's token while it lives (idle and absolute limits, still staff,
    not blocked); its last use moved on."""
    if not token:
        return None
    config, now = current_app.config, clock.utcnow()
    session_id = _session_id(token)
    row = staff_access.live_console_session(
        session_id,
        born_after=now - timedelta(seconds=config["CONSOLE_LIFETIME_SECONDS"]),
        seen_after=now - timedelta(seconds=config["CONSOLE_IDLE_SECONDS"]),
    )
    if row is None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        staff_access.touch_console_session(session_id, now)
        db.session.commit()
    return ConsoleStaff(row.staff_id, row.phone, row.role, session_id)


def sign_out_of_console(staff: ConsoleStaff) -> None:
    staff_access.end_console_session(staff.session_id)
    record(staff, "console.signed_out")
    db.session.commit()


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def record(
    staff: ConsoleStaff,
    action: str,
    subject_id: int | None = None,
    subject_phone: str | None = None,
    reason: str | None = None,
    **details: Any,
) -> None:
    """An entry in the audit log, in the caller's transaction (so an action and its entry commit together)."""
    address, written = client_ip.get(), json.dumps(details, sort_keys=True, default=str)
    at = clock.utcnow()
    audit_log.record(at, staff.user_id, staff.phone, action, subject_id, subject_phone, reason, address, written)


def given_reason(reason: str | None) -> str:
    """What destroys something needs a reason, for the audit log: the reason, or ``ReasonRequired``."""
    if not reason or not reason.strip():
        raise ReasonRequired
    return reason.strip()


def audit_entries(limit: int, before: int | None = None) -> list[audit_log.AuditRow]:
    """The newest ``limit`` entries, or those before the entry ``before``."""
    return audit_log.latest(limit, before) if before is not None else audit_log.latest(limit)


def audit_entries_about(user_id: int, limit: int = 50) -> list[audit_log.AuditRow]:
    return audit_log.about(user_id, limit)

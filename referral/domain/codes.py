"""One-time codes sent by SMS: issue, store hashed, verify, expire. Used by sign-in and by phone change."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from flask import current_app
from sqlalchemy import delete, select, update

from referral import clock
from referral.domain import defences
from referral.domain.audit import security_event
from referral.domain.errors import CodeAttemptsExceeded, CodeExpired, CodeInvalid, CodeResendTooSoon
from referral.extensions import db
from referral.infra import reads
from referral.infra.models import LoginCode, SmsSend, UTCDateTime
from referral.infra.sms import SmsQueueFull, ensure_room, send_sms

LOGIN = "login"
PHONE_CHANGE = "phone_change"

MESSAGES = {
    LOGIN: "{code} is your referral sign-in code. It expires in {minutes} min.",
    PHONE_CHANGE: "{code} confirms this number for your referral account. It expires in {minutes} min.",
}


# Spend the live code where every rule holds; how many failures the phone had before. A login code has no
# owner yet, a phone-change code the user who asked for it.
_SPEND = (
    "UPDATE login_codes SET spent_at = :now "
    "WHERE purpose = :purpose AND phone = :phone AND code_hash = :code_hash AND {owner} "
    "AND spent_at IS NULL AND expires_at > :now AND attempts < :max_attempts "
    "AND NOT EXISTS (SELECT 1 FROM phone_lockouts WHERE phone = :phone AND locked_until > :now) "
    "RETURNING id, (SELECT failures FROM phone_lockouts WHERE phone = :phone)"
)
SPEND_CODE, SPEND_USER_CODE = (
    reads.Read(_SPEND.format(owner=owner), {"now": UTCDateTime()})
    for owner in ("user_id IS NULL", "user_id = :user_id")
)


# The phone's new code, unless its last one was sent less than OTP_RESEND_SECONDS ago (then: no row).
REPLACE_CODE = reads.Read(
    "INSERT INTO login_codes (purpose, phone, user_id, code_hash, attempts, created_at, expires_at) "
    "VALUES (:purpose, :phone, :user_id, :code_hash, 0, :now, :expires_at) "
    "ON CONFLICT (purpose, phone) DO UPDATE SET user_id = excluded.user_id, code_hash = excluded.code_hash, "
    "attempts = 0, spent_at = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at "
    "WHERE login_codes.created_at <= :resend_after "
    "RETURNING id",
    {"now": UTCDateTime(), "expires_at": UTCDateTime(), "resend_after": UTCDateTime()},
)


@dataclass(frozen=True)
class IssuedCode:
    phone: str
    code: str
    expires_in: int
    resend_in: int


def issue_code(phone: str, purpose: str, user_id: int | None = None) -> IssuedCode:
    """Create a code for ``phone`` (replacing any earlier one), hand it to the SMS sender and commit.

    The defences come first: the region, the lockout, and (unless ``RATELIMIT_ENABLED`` is off) the hourly and
    daily caps, counted while other sends to the phone wait. The replacement itself is one ``INSERT ... ON
    CONFLICT DO UPDATE ... WHERE`` the earlier code is older than ``OTP_RESEND_SECONDS``. Test numbers get
    their fixed code, send nothing, and so skip the region check and the send caps.
    """
    config = current_app.config
    now = clock.utcnow()
    ttl, resend = config["OTP_TTL_SECONDS"], config["OTP_RESEND_SECONDS"]
    test_code = defences.test_code_for(phone)
    if test_code is None:
        defences.check_region(phone)
    defences.claim_phone(phone, now)
    code = test_code or "".join(secrets.choice("0123456789") for _ in range(config["OTP_LENGTH"]))
    params = {
        "purpose": purpose,
        "phone": phone,
        "user_id": user_id,
        "code_hash": hash_code(purpose, phone, code),
        "now": now,
        "expires_at": now + timedelta(seconds=ttl),
        # a test number's code may be asked for again at once
        "resend_after": now if test_code else now - timedelta(seconds=resend),
    }
    if not reads.in_session(REPLACE_CODE, params):
        db.session.rollback()
        raise CodeResendTooSoon(retry_after=seconds_until_resend(phone, purpose, now))
    send_id = None
    if test_code is None:
        if config["RATELIMIT_ENABLED"]:
            defences.check_send_caps(phone, now)
        send_id = defences.record_send(phone, purpose, now)
        ensure_room()
    db.session.commit()
    if send_id is not None:
        _hand_to_sender(send_id, phone, MESSAGES[purpose].format(code=code, minutes=math.ceil(ttl / 60)), purpose)
    security_event("code_requested", phone, purpose=purpose, test_number=test_code is not None)
    return IssuedCode(phone=phone, code=code, expires_in=ttl, resend_in=resend)


def _hand_to_sender(send_id: int, phone: str, text: str, purpose: str) -> None:
    """After the commit, so that the delivery worker finds the row. If the queue refuses the message after
    all (Redis went away), the code and its send are withdrawn: the 503 that follows cost the phone nothing,
    no resend interval and no send counted by the caps."""
    try:
        send_sms(send_id, phone, text)
    except SmsQueueFull:
        db.session.execute(delete(LoginCode).where(LoginCode.purpose == purpose, LoginCode.phone == phone))
        db.session.execute(delete(SmsSend).where(SmsSend.id == send_id))
        db.session.commit()
        security_event("code_withdrawn", phone, purpose=purpose)
        raise


def consume_code(phone: str, code: str, purpose: str, user_id: int | None = None) -> None:
    """Spend the live code for ``phone`` if ``code`` matches, inside the caller's transaction.

    The caller commits (the code is spent) or rolls back (it is not). A wrong code is counted, against the
    code and against the phone's run of failures, and committed at once, whatever the caller does next.

    The right code is one round trip: a single ``UPDATE`` spends it where every rule holds (not locked, not
    spent, not expired, attempts left, the right owner and hash), and tells how many failures the phone had,
    which only then are reset. Comparing the hashes in SQL leaks nothing by its timing: what an attacker sends
    is a code, never a hash, and without ``SECRET_KEY`` nobody can aim at a prefix of the stored HMAC. Every
    other answer (which rule failed, counting a wrong code) is worked out after, by ``_refuse``.
    """
    now = clock.utcnow()
    params = {
        "purpose": purpose,
        "phone": phone,
        "code_hash": hash_code(purpose, phone, code),
        "now": now,
        "max_attempts": current_app.config["OTP_MAX_ATTEMPTS"],
        "user_id": user_id,
    }
    spent = reads.in_session(SPEND_CODE if user_id is None else SPEND_USER_CODE, params)
    if not spent:
        _refuse(phone, code, purpose, user_id, now)
    if spent[0][1]:
        defences.clear_failures(phone)  # a right code ends the run of wrong ones


def _refuse(phone: str, code: str, purpose: str, user_id: int | None, now: datetime) -> NoReturn:
    """Why the code was not spent, as the error to answer; a wrong code is counted (and committed)."""
    max_attempts = current_app.config["OTP_MAX_ATTEMPTS"]
    defences.check_lockout(phone, now)
    row = db.session.scalars(
        select(LoginCode).where(LoginCode.purpose == purpose, LoginCode.phone == phone)
    ).one_or_none()
    if row is None or row.spent_at is not None or row.expires_at <= now or row.user_id != user_id:
        raise CodeExpired
    if row.attempts >= max_attempts:
        raise CodeAttemptsExceeded(retry_after=_retry_after(row.created_at, now))
    if hmac.compare_digest(row.code_hash, hash_code(purpose, phone, code)):
        raise CodeExpired  # the right code, spent by another request a moment ago
    attempts = db.session.scalar(
        update(LoginCode)
        .where(LoginCode.id == row.id, LoginCode.attempts < max_attempts)
        .values(attempts=LoginCode.attempts + 1)
        .returning(LoginCode.attempts)
    )
    defences.record_failure(phone, now)
    db.session.commit()
    security_event("code_wrong", phone, purpose=purpose, attempts=attempts)
    if attempts is None:
        raise CodeAttemptsExceeded(retry_after=_retry_after(row.created_at, now))
    raise CodeInvalid(attempts_left=max_attempts - attempts)


def hash_code(purpose: str, phone: str, code: str) -> str:
    """HMAC-SHA256 keyed with ``SECRET_KEY``: a leaked table gives nobody a code."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def seconds_until_resend(phone: str, purpose: str, now: datetime) -> int:
    created_at = db.session.scalar(
        select(LoginCode.created_at).where(LoginCode.purpose == purpose, LoginCode.phone == phone)
    )
    return _retry_after(created_at or now, now)


def _retry_after(created_at: datetime, now: datetime) -> int:
    """Whole seconds until a new code may be sent, at least 1."""
    ready_at = created_at + timedelta(seconds=current_app.config["OTP_RESEND_SECONDS"])
    return max(1, math.ceil((ready_at - now).total_seconds()))

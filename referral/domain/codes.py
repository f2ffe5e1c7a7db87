"""One-time codes sent by SMS: issue, store hashed, verify, expire. Used by sign-in and by phone change."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from referral import clock
from referral.domain import defences
from referral.domain.audit import security_event
from referral.domain.errors import CodeAttemptsExceeded, CodeExpired, CodeInvalid, CodeResendTooSoon
from referral.extensions import db
from referral.infra.database import upsert
from referral.infra.models import LoginCode, SmsSend
from referral.infra.sms import SmsQueueFull, ensure_room, send_sms

LOGIN = "login"
PHONE_CHANGE = "phone_change"

MESSAGES = {
    LOGIN: "{code} is your referral sign-in code. It expires in {minutes} min.",
    PHONE_CHANGE: "{code} confirms this number for your referral account. It expires in {minutes} min.",
}


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
    defences.serialise_phone(phone)
    defences.check_lockout(phone, now)
    code = test_code or "".join(secrets.choice("0123456789") for _ in range(config["OTP_LENGTH"]))
    fresh = {
        "user_id": user_id,
        "code_hash": hash_code(purpose, phone, code),
        "attempts": 0,
        "spent_at": None,
        "created_at": now,
        "expires_at": now + timedelta(seconds=ttl),
    }
    statement = upsert(LoginCode).values(purpose=purpose, phone=phone, **fresh)
    statement = statement.on_conflict_do_update(
        index_elements=[LoginCode.purpose, LoginCode.phone],
        set_=fresh,
        where=None if test_code else LoginCode.created_at <= now - timedelta(seconds=resend),
    ).returning(LoginCode.id)
    if db.session.execute(statement).first() is None:
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
    all (Redis went away), the code is withdrawn, so the caller may ask again at once instead of waiting out a
    resend interval for a code that never came."""
    try:
        send_sms(send_id, phone, text)
    except SmsQueueFull:
        db.session.execute(delete(LoginCode).where(LoginCode.purpose == purpose, LoginCode.phone == phone))
        db.session.execute(
            update(SmsSend).where(SmsSend.id == send_id).values(status="failed", last_error="could not be queued")
        )
        db.session.commit()
        raise


def consume_code(phone: str, code: str, purpose: str, user_id: int | None = None) -> None:
    """Spend the live code for ``phone`` if ``code`` matches, inside the caller's transaction.

    The caller commits (the code is spent) or rolls back (it is not). A wrong code is counted, against the
    code and against the phone's run of failures, and committed at once, whatever the caller does next.
    """
    max_attempts = current_app.config["OTP_MAX_ATTEMPTS"]
    now = clock.utcnow()
    defences.check_lockout(phone, now)
    row = db.session.scalars(
        select(LoginCode).where(LoginCode.purpose == purpose, LoginCode.phone == phone)
    ).one_or_none()
    if row is None or row.spent_at is not None or row.expires_at <= now or row.user_id != user_id:
        raise CodeExpired
    if row.attempts >= max_attempts:
        raise CodeAttemptsExceeded(retry_after=_retry_after(row.created_at, now))
    if not hmac.compare_digest(row.code_hash, hash_code(purpose, phone, code)):
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
    spent = db.session.scalar(
        update(LoginCode)
        .where(LoginCode.id == row.id, LoginCode.spent_at.is_(None), LoginCode.attempts < max_attempts)
        .values(spent_at=now)
        .returning(LoginCode.id)
    )
    if spent is None:  # another request spent it first
        raise CodeExpired
    defences.clear_failures(phone)


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

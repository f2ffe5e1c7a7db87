"""The per-phone defences of the login: which regions get codes, how many codes a phone may get, and the
lockout after consecutive wrong codes. All kept in the database, so every app process agrees.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import phonenumbers
from flask import current_app
from sqlalchemy import func, select, update

from referral.domain.audit import security_event
from referral.domain.errors import PhoneLocked, PhoneRegionNotAllowed, SendLimitReached
from referral.extensions import db
from referral.infra import reads
from referral.infra.database import lock_for_transaction, upsert
from referral.infra.models import PhoneLockout, SmsSend, UTCDateTime


def test_code_for(phone: str) -> str | None:
    """The fixed code of a configured test number (``TEST_PHONE_NUMBERS``), else ``None``."""
    return current_app.config["TEST_PHONE_NUMBERS"].get(phone)


def check_region(phone: str) -> None:
    """Codes go only to numbers of ``SMS_ALLOWED_REGIONS``: premium-rate pumping abroad costs the most."""
    region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    if region not in current_app.config["SMS_ALLOWED_REGIONS"]:
        raise PhoneRegionNotAllowed


def claim_phone(phone: str, now: datetime) -> None:
    """Refuse a locked ``phone``; and until the transaction ends, make other transactions that send to it wait,
    so that the caps count truly. One round trip: the lockout is read in the statement that takes the lock.

    That read sees what was committed before any wait for the lock: a lockout that the transaction waited for
    commits meanwhile is missed, exactly as if this request had come a moment earlier. The caps, which must see
    that transaction's send, are counted by a later statement (``check_send_caps``).
    """
    digest = hashlib.sha256(f"phone:{phone}".encode()).digest()
    locked_until = lock_for_transaction(
        int.from_bytes(digest[:8], "big", signed=True),
        reading="SELECT locked_until FROM phone_lockouts WHERE phone = :phone",
        reading_type=UTCDateTime(),
        phone=phone,
    )
    _refuse_if_locked(locked_until, now)


def check_send_caps(phone: str, now: datetime) -> None:
    """At most ``OTP_MAX_SENDS_PER_HOUR`` and ``OTP_MAX_SENDS_PER_DAY`` codes per phone (one query)."""
    config = current_app.config
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    in_hour = func.count().filter(SmsSend.sent_at > hour_ago)
    row = db.session.execute(
        select(
            func.count(),
            in_hour,
            func.min(SmsSend.sent_at),
            func.min(SmsSend.sent_at).filter(SmsSend.sent_at > hour_ago),
        ).where(SmsSend.phone == phone, SmsSend.sent_at > day_ago)
    ).one()
    sent_day, sent_hour, oldest_in_day, oldest_in_hour = row
    if sent_hour >= config["OTP_MAX_SENDS_PER_HOUR"]:
        wait = oldest_in_hour + timedelta(hours=1) - now
    elif sent_day >= config["OTP_MAX_SENDS_PER_DAY"]:
        wait = oldest_in_day + timedelta(days=1) - now
    else:
        return
    security_event("send_capped", phone, sent_hour=sent_hour, sent_day=sent_day)
    raise SendLimitReached(retry_after=_seconds(wait))


RECORD_SEND = reads.Read(
    "INSERT INTO sms_sends (phone, purpose, sent_at, status, attempts) VALUES (:phone, :purpose, :now, 'queued', 0) "
    "RETURNING id",
    {"now": UTCDateTime()},
)


def record_send(phone: str, purpose: str, now: datetime) -> int:
    """Record a send, counted by the caps and tracked to delivery; its id."""
    send_id: int = reads.in_session(RECORD_SEND, {"phone": phone, "purpose": purpose, "now": now})[0][0]
    return send_id


def check_lockout(phone: str, now: datetime) -> None:
    _refuse_if_locked(db.session.scalar(select(PhoneLockout.locked_until).where(PhoneLockout.phone == phone)), now)


def _refuse_if_locked(locked_until: datetime | None, now: datetime) -> None:
    if locked_until is not None and locked_until > now:
        raise PhoneLocked(retry_after=_seconds(locked_until - now))


def record_failure(phone: str, now: datetime) -> bool:
    """Count a wrong code for ``phone``; lock it after ``OTP_LOCKOUT_FAILURES`` in a row. Whether it locked."""
    config = current_app.config
    failures = db.session.scalar(
        upsert(PhoneLockout)
        .values(phone=phone, failures=1)
        .on_conflict_do_update(index_elements=[PhoneLockout.phone], set_={"failures": PhoneLockout.failures + 1})
        .returning(PhoneLockout.failures)
    )
    if failures is None or failures < config["OTP_LOCKOUT_FAILURES"]:
        return False
    db.session.execute(
        update(PhoneLockout)
        .where(PhoneLockout.phone == phone)
        .values(failures=0, locked_until=now + timedelta(seconds=config["OTP_LOCKOUT_SECONDS"]))
    )
    security_event("phone_locked", phone, seconds=config["OTP_LOCKOUT_SECONDS"])
    return True


def clear_failures(phone: str) -> None:
    """A right code ends the run of wrong ones."""
    db.session.execute(update(PhoneLockout).where(PhoneLockout.phone == phone).values(failures=0))


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))

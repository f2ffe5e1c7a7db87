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
from referral.infra.database import lock_for_transaction, upsert
from referral.infra.models import PhoneLockout, SmsSend


def test_code_for(phone: str) -> str | None:
    """The fixed code of a configured test number (``TEST_PHONE_NUMBERS``), else ``None``."""
    return current_app.config["TEST_PHONE_NUMBERS"].get(phone)


def check_region(phone: str) -> None:
    """Codes go only to numbers of ``SMS_ALLOWED_REGIONS``: premium-rate pumping abroad costs the most."""
    region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    if region not in current_app.config["SMS_ALLOWED_REGIONS"]:
        raise PhoneRegionNotAllowed


def serialise_phone(phone: str) -> None:
    """Until the transaction ends, other transactions that send to ``phone`` wait: the caps count truly."""
    digest = hashlib.sha256(f"phone:{phone}".encode()).digest()
    lock_for_transaction(int.from_bytes(digest[:8], "big", signed=True))


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


def record_send(phone: str, purpose: str, now: datetime) -> int:
    """Record a send, counted by the caps and tracked to delivery; its id."""
    send = SmsSend(phone=phone, purpose=purpose, sent_at=now)
    db.session.add(send)
    db.session.flush()
    return send.id


def check_lockout(phone: str, now: datetime) -> None:
    locked_until = db.session.scalar(select(PhoneLockout.locked_until).where(PhoneLockout.phone == phone))
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

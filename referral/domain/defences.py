"""The per-phone defences of the login: which regions get codes, how many codes a phone may get, and the
lockout after consecutive wrong codes. All kept in the database, so every app process agrees.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import phonenumbers
from flask import current_app

from referral.domain.audit import security_event
from referral.domain.errors import PhoneLocked, PhoneRegionNotAllowed, SendLimitReached
from referral.infra import phone_defences


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
    so that the caps count truly. The lockout is read with the lock, as committed a moment before any wait: a
    lockout committed meanwhile is missed exactly as if this request had come a moment earlier."""
    _refuse_if_locked(phone_defences.claim_phone(phone), now)


def caps_count_since(now: datetime) -> tuple[datetime, datetime]:
    """Since when the caps count a phone's sends: a day ago, an hour ago."""
    return now - timedelta(days=1), now - timedelta(hours=1)


def check_send_caps(phone: str, sent: phone_defences.SendCounts, now: datetime) -> None:
    """At most ``OTP_MAX_SENDS_PER_HOUR`` and ``OTP_MAX_SENDS_PER_DAY`` codes per phone: ``sent``, the phone's
    sends before this one (since ``caps_count_since(now)``), leave room for one more."""
    config = current_app.config
    if sent.in_hour >= config["OTP_MAX_SENDS_PER_HOUR"] and sent.oldest_in_hour is not None:
        wait = sent.oldest_in_hour + timedelta(hours=1) - now
    elif sent.in_day >= config["OTP_MAX_SENDS_PER_DAY"] and sent.oldest_in_day is not None:
        wait = sent.oldest_in_day + timedelta(days=1) - now
    else:
        return
    security_event("send_capped", phone, sent_hour=sent.in_hour, sent_day=sent.in_day)
    raise SendLimitReached(retry_after=_seconds(wait))


def forget_send(send_id: int) -> None:
    """A send that never went out costs the phone nothing."""
    phone_defences.forget_send(send_id)


def check_lockout(phone: str, now: datetime) -> None:
    _refuse_if_locked(phone_defences.lockout_of(phone), now)


def _refuse_if_locked(locked_until: datetime | None, now: datetime) -> None:
    if locked_until is not None and locked_until > now:
        raise PhoneLocked(retry_after=_seconds(locked_until - now))


def record_failure(phone: str, now: datetime) -> bool:
    """Count a wrong code for ``phone``; lock it after ``OTP_LOCKOUT_FAILURES`` in a row. Whether it locked."""
    config = current_app.config
    if phone_defences.count_failure(phone) < config["OTP_LOCKOUT_FAILURES"]:
        return False
    phone_defences.lock_out(phone, until=now + timedelta(seconds=config["OTP_LOCKOUT_SECONDS"]))
    security_event("phone_locked", phone, seconds=config["OTP_LOCKOUT_SECONDS"])
    return True


def lift_lockout(phone: str, now: datetime) -> bool:
    """Staff end a phone's lockout before its time (in the caller's transaction); whether it was locked."""
    return phone_defences.lift_lockout(phone, now)


def clear_failures(phone: str) -> None:
    """A right code ends the run of wrong ones."""
    phone_defences.clear_failures(phone)


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))

"""One-time codes sent by SMS: issue, store hashed, verify, expire. Used by sign-in and by phone change."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NoReturn

import phonenumbers
from flask import current_app

from referral import clock
from referral.domain import defences
from referral.domain.audit import security_event
from referral.domain.errors import CodeAttemptsExceeded, CodeExpired, CodeInvalid, CodeResendTooSoon
from referral.extensions import db
from referral.infra import metrics, one_time_codes
from referral.infra.sms import SmsQueueFull, ensure_room, send_sms


class Purpose(StrEnum):
    """What a code confirms."""

    LOGIN = "login"
    PHONE_CHANGE = "phone_change"
    ACCOUNT_DELETION = "account_deletion"
    CONSOLE_SIGNIN = "console_signin"


# The SMS, in the languages of the pages; Russian numbers get Russian unless the request asked for another.
LANGUAGES = ("ru", "en")
_PHONE_CHANGE_RU = "{code} подтверждает этот номер для вашего аккаунта referral. Действует {minutes} мин."
_DELETION_RU = "{code} подтверждает УДАЛЕНИЕ вашего аккаунта referral. Если это не вы, ничего не делайте."
MESSAGES = {
    (Purpose.LOGIN, "en"): "{code} is your referral sign-in code. It expires in {minutes} min.",
    (Purpose.LOGIN, "ru"): "{code} — код для входа в referral. Действует {minutes} мин.",
    (Purpose.PHONE_CHANGE, "en"): "{code} confirms this number for your referral account. It expires in {minutes} min.",
    (Purpose.PHONE_CHANGE, "ru"): _PHONE_CHANGE_RU,
    (Purpose.ACCOUNT_DELETION, "en"): "{code} confirms DELETING your referral account. If you did not ask, ignore it.",
    (Purpose.ACCOUNT_DELETION, "ru"): _DELETION_RU,
    (Purpose.CONSOLE_SIGNIN, "en"): "{code} is your referral STAFF CONSOLE code. Never tell it to anyone.",
    (Purpose.CONSOLE_SIGNIN, "ru"): "{code} — код входа в КОНСОЛЬ СОТРУДНИКА referral. Никому его не сообщайте.",
}


def sms_language(phone: str, asked: str | None) -> str:
    """The language the request asked for (``Accept-Language``, the page's), else the number's country's."""
    if asked in LANGUAGES:
        return asked
    return "ru" if phonenumbers.region_code_for_number(phonenumbers.parse(phone)) == "RU" else "en"


def sms_text(purpose: Purpose, code: str, language: str) -> str:
    """The message, then the Android SMS Retriever app hash (``SMS_APP_HASH``) and, last, the origin-bound line
    browsers fill the code in from (WebOTP: ``@host #code``, host ``SMS_WEBOTP_HOST``), each when set."""
    config = current_app.config
    lines = [MESSAGES[purpose, language].format(code=code, minutes=math.ceil(config["OTP_TTL_SECONDS"] / 60))]
    if config["SMS_APP_HASH"]:
        lines.append(config["SMS_APP_HASH"])
    if config["SMS_WEBOTP_HOST"]:
        lines += ["", f"@{config['SMS_WEBOTP_HOST']} #{code}"]
    return "\n".join(lines)


@dataclass(frozen=True)
class IssuedCode:
    phone: str
    code: str
    expires_in: int
    resend_in: int


def issue_code(phone: str, purpose: Purpose, user_id: int | None = None, language: str | None = None) -> IssuedCode:
    """Create a code for ``phone`` (replacing any earlier one older than ``OTP_RESEND_SECONDS``), hand it to the
    SMS sender and commit. The defences come first: the region, the lockout, and (unless ``RATELIMIT_ENABLED``
    is off) the hourly and daily caps. Test numbers get their fixed code and send nothing."""
    config = current_app.config
    now = clock.utcnow()
    ttl, resend = config["OTP_TTL_SECONDS"], config["OTP_RESEND_SECONDS"]
    test_code = defences.test_code_for(phone)
    if test_code is None:
        defences.check_region(phone)
    defences.claim_phone(phone, now)
    code = test_code or "".join(secrets.choice("0123456789") for _ in range(config["OTP_LENGTH"]))
    resend_after = now if test_code else now - timedelta(seconds=resend)  # a test number's: again at once
    new_code = one_time_codes.NewCode(
        purpose, phone, user_id, hash_code(purpose, phone, code), now, now + timedelta(seconds=ttl), resend_after
    )
    if test_code:  # sends nothing
        sending, made = None, one_time_codes.replace(new_code)
    else:  # the code and its send in one statement, with the sends the caps count from before it
        sending = one_time_codes.replace_sending(new_code, *defences.caps_count_since(now))
        made = sending is not None
    if not made:
        db.session.rollback()
        raise CodeResendTooSoon(retry_after=seconds_until_resend(phone, purpose, now))
    if sending is not None:
        if config["RATELIMIT_ENABLED"]:
            defences.check_send_caps(phone, sending.sent, now)  # refused: the code and its send roll back
        ensure_room()
    db.session.commit()
    if sending is not None:
        _hand_to_sender(sending.send_id, phone, sms_text(purpose, code, sms_language(phone, language)), purpose)
    security_event("code_requested", phone, purpose=purpose, test_number=test_code is not None)
    return IssuedCode(phone=phone, code=code, expires_in=ttl, resend_in=resend)


def _hand_to_sender(send_id: int, phone: str, text: str, purpose: Purpose) -> None:
    """After the commit, so that the delivery worker finds the row. If the queue refuses the message after
    all (Redis went away), the code and its send are withdrawn: the 503 that follows cost the phone nothing,
    no resend interval and no send counted by the caps."""
    try:
        send_sms(send_id, phone, text)
        metrics.SMS_REQUESTED.labels(purpose).inc()
    except SmsQueueFull:
        one_time_codes.withdraw(purpose, phone)
        defences.forget_send(send_id)
        db.session.commit()
        security_event("code_withdrawn", phone, purpose=purpose)
        raise


def consume_code(phone: str, code: str, purpose: Purpose, user_id: int | None = None) -> None:
    """Spend the live code for ``phone`` if ``code`` matches, inside the caller's transaction.

    The caller commits (the code is spent) or rolls back (it is not). A wrong code is counted, against the code
    and against the phone's run of failures, and committed at once, whatever the caller does next. The right
    code is one statement; why the rules failed is worked out only when it spends nothing (``docs/design.md``,
    "Codes").
    """
    now = clock.utcnow()
    max_attempts = current_app.config["OTP_MAX_ATTEMPTS"]
    spent, failures = one_time_codes.spend(purpose, phone, hash_code(purpose, phone, code), user_id, now, max_attempts)
    if not spent:
        _refuse(phone, code, purpose, user_id, now)
    metrics.count_on_commit(db.session(), metrics.CODES_VERIFIED, purpose)
    if failures:
        defences.clear_failures(phone)  # a right code ends the run of wrong ones


def _refuse(phone: str, code: str, purpose: Purpose, user_id: int | None, now: datetime) -> NoReturn:
    """Why the code was not spent, as the error to answer; a wrong code is counted (and committed)."""
    max_attempts = current_app.config["OTP_MAX_ATTEMPTS"]
    defences.check_lockout(phone, now)
    row = one_time_codes.code_of(purpose, phone)
    if row is None or row.spent_at is not None or row.expires_at <= now or row.user_id != user_id:
        raise CodeExpired
    if row.attempts >= max_attempts:
        raise CodeAttemptsExceeded(retry_after=_retry_after(row.created_at, now))
    if hmac.compare_digest(row.code_hash, hash_code(purpose, phone, code)):
        raise CodeExpired  # the right code, spent by another request a moment ago
    attempts = one_time_codes.count_wrong_try(row.id, max_attempts)
    defences.record_failure(phone, now)
    db.session.commit()
    security_event("code_wrong", phone, purpose=purpose, attempts=attempts)
    if attempts is None:
        raise CodeAttemptsExceeded(retry_after=_retry_after(row.created_at, now))
    raise CodeInvalid(attempts_left=max_attempts - attempts)


def hash_code(purpose: Purpose, phone: str, code: str) -> str:
    """HMAC-SHA256 keyed with ``SECRET_KEY``: a leaked table gives nobody a code."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def seconds_until_resend(phone: str, purpose: Purpose, now: datetime) -> int:
    row = one_time_codes.code_of(purpose, phone)
    return _retry_after(row.created_at if row is not None else now, now)


def _retry_after(created_at: datetime, now: datetime) -> int:
    """Whole seconds until a new code may be sent, at least 1."""
    ready_at = created_at + timedelta(seconds=current_app.config["OTP_RESEND_SECONDS"])
    return max(1, math.ceil((ready_at - now).total_seconds()))

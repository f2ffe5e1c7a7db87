"""Moving an account to another phone: a code to the new number, then every earlier session ends."""

from __future__ import annotations

from dataclasses import replace

from referral.domain import codes, events, sessions
from referral.domain.account import Account, profile_of
from referral.domain.audit import security_event
from referral.domain.errors import PhoneTaken, PhoneUnchanged, TokenRevoked
from referral.domain.signin import SignIn
from referral.extensions import db
from referral.infra import accounts
from referral.logs import mask_phone


def request_phone_change(account: Account, new_phone: str, language: str | None = None) -> codes.IssuedCode:
    """Send a confirmation code to ``new_phone`` if it is free and not already the user's."""
    if new_phone == account.phone:
        raise PhoneUnchanged
    if accounts.user_of_phone(new_phone) is not None:
        raise PhoneTaken
    return codes.issue_code(new_phone, codes.Purpose.PHONE_CHANGE, user_id=account.id, language=language)


def confirm_phone_change(account: Account, new_phone: str, code: str, user_agent: str | None = None) -> SignIn:
    """Spend the code, move the user to ``new_phone``, end every earlier session and start a new one."""
    codes.consume_code(new_phone, code, codes.Purpose.PHONE_CHANGE, user_id=account.id)
    try:
        if not accounts.move_to_phone(account.id, new_phone):
            raise TokenRevoked  # deleted since the session was checked
    except accounts.PhoneInUse:
        raise PhoneTaken from None
    sessions.revoke_user_sessions(account.id)
    tokens = sessions.start_session(account.id, user_agent)
    events.phone_changed(account.id, account.phone, new_phone)
    profile = profile_of(replace(account, phone=new_phone))
    db.session.commit()
    security_event("phone_changed", new_phone, user=profile.id, old_phone=mask_phone(account.phone))
    return SignIn(tokens=tokens, profile=profile, created=False)

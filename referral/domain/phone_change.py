"""Moving an account to another phone: a code to the new number, then every earlier session ends."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from referral.domain import codes, events, sessions
from referral.domain.account import Account, load, profile_of
from referral.domain.audit import security_event
from referral.domain.errors import PhoneTaken, PhoneUnchanged
from referral.domain.signin import SignIn
from referral.extensions import db
from referral.infra.models import User
from referral.logs import mask_phone


def request_phone_change(account: Account, new_phone: str) -> codes.IssuedCode:
    """Send a confirmation code to ``new_phone`` if it is free and not already the user's."""
    if new_phone == account.phone:
        raise PhoneUnchanged
    if db.session.scalar(select(User.id).where(User.phone == new_phone)) is not None:
        raise PhoneTaken
    return codes.issue_code(new_phone, codes.PHONE_CHANGE, user_id=account.id)


def confirm_phone_change(account: Account, new_phone: str, code: str) -> SignIn:
    """Spend the code, move the user to ``new_phone``, end every earlier session and start a new one."""
    codes.consume_code(new_phone, code, codes.PHONE_CHANGE, user_id=account.id)
    user = load(account)
    old_phone = user.phone
    user.phone = new_phone
    try:
        db.session.flush()
    except IntegrityError:
        raise PhoneTaken from None
    sessions.revoke_user_sessions(user.id)
    tokens = sessions.start_session(user.id)
    events.phone_changed(user.id, old_phone, new_phone)
    profile = profile_of(user)  # before the commit, which would expire every attribute of ``user``
    db.session.commit()
    security_event("phone_changed", new_phone, user=profile.id, old_phone=mask_phone(old_phone))
    return SignIn(tokens=tokens, profile=profile, created=False)

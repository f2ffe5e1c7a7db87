"""Accounts: sign-in (which creates the user), names, phone change, and the profile as clients see it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from referral import invites, otp, sessions
from referral.accounts import Account
from referral.audit import security_event
from referral.exceptions import PhoneTaken, PhoneUnchanged, TokenRevoked
from referral.extensions import db
from referral.models import User
from referral.phones import mask_phone

log = logging.getLogger(__name__)

# A fresh invite code collides with probability ~ users / 56**6; ten tries in a row never all collide.
INVITE_CODE_TRIES = 10


@dataclass(frozen=True)
class SignIn:
    tokens: sessions.TokenPair
    profile: Account  # with its newest referrals (profile_of)
    created: bool


def sign_in(phone: str, code: str, invite_code: str | None = None) -> SignIn:
    """Spend the login code, find or create the user, apply ``invite_code``, start a session: all or nothing."""
    otp.consume_code(phone, code, otp.LOGIN)
    user = db.session.scalars(select(User).where(User.phone == phone)).one_or_none()
    created = user is None
    if user is None:
        user = create_user(phone)
    if invite_code is not None:
        invites.activate_invite(user.id, invite_code, already_invited=user.invited_by_id is not None)
    tokens = sessions.start_session(user)
    db.session.commit()
    if created:
        log.info("user %s signed up as %s", user.id, mask_phone(phone))
    return SignIn(tokens=tokens, profile=profile_of(user), created=created)


def create_user(phone: str) -> User:
    """A new user with a fresh unique invite code, in the caller's transaction (a savepoint per try)."""
    for _ in range(INVITE_CODE_TRIES):
        user = User(phone=phone, invite_code=invites.generate_invite_code())
        try:
            with db.session.begin_nested():
                db.session.add(user)
        except IntegrityError as error:
            if "phone" in str(error.orig):
                raise PhoneTaken from None
            continue  # the invite code was taken: draw again
        return user
    raise RuntimeError("could not draw a free invite code")


def update_names(account: Account, names: dict[str, Any]) -> Account:
    """Set ``first_name`` and/or ``last_name`` (already trimmed by the schema) and commit.

    The profile that comes back is the account with the new names: nothing else about it changed.
    """
    if names:
        updated = db.session.execute(update(User).where(User.id == account.id).values(**names))
        if updated.rowcount != 1:  # type: ignore[attr-defined]
            raise TokenRevoked  # the user was deleted since the session was checked
        db.session.commit()
    return profile_of(replace(account, **names))


def activate_invite(account: Account, invite_code: str) -> Account:
    """Enter ``invite_code`` and commit; the profile now shows the code (the inviter's, as entered) and when."""
    invited_at = invites.activate_invite(account.id, invite_code, already_invited=account.invited_at is not None)
    db.session.commit()
    return profile_of(replace(account, activated_invite_code=invite_code, invited_at=invited_at))


def request_phone_change(account: Account, new_phone: str) -> otp.IssuedCode:
    """Send a confirmation code to ``new_phone`` if it is free and not already the user's."""
    if new_phone == account.phone:
        raise PhoneUnchanged
    if db.session.scalar(select(User.id).where(User.phone == new_phone)) is not None:
        raise PhoneTaken
    return otp.issue_code(new_phone, otp.PHONE_CHANGE, user_id=account.id)


def confirm_phone_change(account: Account, new_phone: str, code: str) -> SignIn:
    """Spend the code, move the user to ``new_phone``, end every earlier session and start a new one."""
    otp.consume_code(new_phone, code, otp.PHONE_CHANGE, user_id=account.id)
    user = load(account)
    old_phone = user.phone
    user.phone = new_phone
    try:
        db.session.flush()
    except IntegrityError:
        raise PhoneTaken from None
    sessions.revoke_user_sessions(user.id)
    tokens = sessions.start_session(user)
    db.session.commit()
    security_event("phone_changed", new_phone, user=user.id, old_phone=mask_phone(old_phone))
    return SignIn(tokens=tokens, profile=profile_of(user), created=False)


def load(account: Account) -> User:
    """The ``User`` row of the signed-in ``account``, for a write in this transaction."""
    user = db.session.get(User, account.id)
    if user is None:  # deleted since the session was checked: its sessions went with it
        raise TokenRevoked
    return user


def profile_of(user: User | Account) -> Account:
    """The profile of ``user``: the account with the phones of its newest referrals, read by one small query
    unless the account was read with them (``accounts.with_newest_referrals``)."""
    account = user if isinstance(user, Account) else Account.of(user)
    if account.newest_referrals is not None:
        return account
    return replace(account, newest_referrals=invites.recent_referral_phones(account.id))


def delete_user(user: User) -> int:
    """Delete ``user`` and commit; the number of referrals that were detached.

    The people they invited keep their accounts (and their own referrals) but are no longer anyone's referral,
    so they may enter another invite code. The user's inviter counts one referral fewer. Sessions and codes go
    with the user (foreign keys cascade).
    """
    detached = db.session.execute(
        update(User).where(User.invited_by_id == user.id).values(invited_by_id=None, invited_at=None)
    ).rowcount  # type: ignore[attr-defined]
    if user.invited_by_id is not None:
        db.session.execute(
            update(User).where(User.id == user.invited_by_id).values(referrals_count=User.referrals_count - 1)
        )
    db.session.delete(user)
    db.session.commit()
    return int(detached)

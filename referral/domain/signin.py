"""Sign-in with a phone and a one-time code: the first one creates the user, with an optional invite code."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from referral.domain import codes, events, invites, sessions
from referral.domain.account import Account, profile_of
from referral.domain.errors import PhoneTaken
from referral.extensions import db
from referral.infra.models import User
from referral.logs import mask_phone

log = logging.getLogger(__name__)

# A fresh invite code collides with probability ~ users / 56**6; ten tries in a row never all collide.
INVITE_CODE_TRIES = 10


@dataclass(frozen=True)
class SignIn:
    tokens: sessions.TokenPair
    profile: Account  # with its newest referrals
    created: bool


def request_login_code(phone: str) -> codes.IssuedCode:
    """Send a login code to ``phone`` (the same whether or not it is registered)."""
    return codes.issue_code(phone, codes.LOGIN)


def sign_in(phone: str, code: str, invite_code: str | None = None) -> SignIn:
    """Spend the login code, find or create the user, apply ``invite_code``, start a session: all or nothing."""
    codes.consume_code(phone, code, codes.LOGIN)
    user = db.session.scalars(select(User).where(User.phone == phone)).one_or_none()
    created = user is None
    if user is None:
        user = create_user(phone)
    # The profile is made inside the transaction: after the commit every attribute of ``user`` would be read
    # again, in a transaction of its own (BEGIN, SELECT, ROLLBACK: three round trips for what is known).
    profile = _new_account(user) if created else Account.of(user)
    activation = None
    if invite_code is not None:
        already = user.invited_by_id is not None
        activation = invites.activate_invite(user.id, phone, invite_code, already_invited=already)
        profile = replace(profile, activated_invite_code=invite_code, invited_at=activation.invited_at)
    if created:
        events.user_created(user, activation.inviter if activation else None)
    profile = replace(profile, newest_referrals=[]) if created else profile_of(profile)
    tokens = sessions.start_session(user.id)
    db.session.commit()
    if created:
        log.info("user %s signed up as %s", profile.id, mask_phone(phone))
    return SignIn(tokens=tokens, profile=profile, created=created)


def _new_account(user: User) -> Account:
    """The account of a user this transaction created: nothing about it is in the database but what it set."""
    return Account(
        id=user.id,
        phone=user.phone,
        invite_code=user.invite_code,
        first_name="",
        last_name="",
        activated_invite_code=None,
        invited_at=None,
        referrals_count=0,
        created_at=user.created_at,
    )


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

"""Sign-in with a phone and a one-time code: the first one creates the user, with an optional invite code."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError

from referral import clock
from referral.domain import codes, events, invites, sessions
from referral.domain.account import Account, account_by_phone
from referral.domain.errors import InviteCodeNotFound
from referral.domain.referrals import PROFILE_REFERRALS
from referral.extensions import db
from referral.infra import reads
from referral.infra.models import UTCDateTime
from referral.logs import mask_phone

log = logging.getLogger(__name__)

# A fresh invite code collides with probability ~ users / 56**6; ten tries in a row never all collide.
INVITE_CODE_TRIES = 10


# A new user (nothing happens if the phone has one, or the invite code drawn is taken: no row comes back) ...
_NEW_USER = (
    "INSERT INTO users (phone, invite_code, first_name, last_name, invited_by_id, invited_at, created_at) "
    "{values} ON CONFLICT DO NOTHING RETURNING id, invited_by_id"
)
NEW_USER = reads.Read(
    _NEW_USER.format(values="VALUES (:phone, :own_code, '', '', NULL, NULL, :now)"), {"now": UTCDateTime()}
)
# ... invited by the owner of :invite_code (no row either if nobody has it).
NEW_INVITED_USER = reads.Read(
    _NEW_USER.format(
        values="SELECT :phone, :own_code, '', '', inviter.id, :now, :now FROM users AS inviter "
        "WHERE inviter.invite_code = :invite_code"
    ),
    {"now": UTCDateTime()},
)


@dataclass(frozen=True)
class SignIn:
    tokens: sessions.TokenPair
    profile: Account  # with its newest referrals
    created: bool


def request_login_code(phone: str) -> codes.IssuedCode:
    """Send a login code to ``phone`` (the same whether or not it is registered)."""
    return codes.issue_code(phone, codes.LOGIN)


def sign_in(phone: str, code: str, invite_code: str | None = None) -> SignIn:
    """Spend the login code, find or create the user, apply ``invite_code``, start a session: all or nothing.

    A sign-up with an invite code is six round trips: BEGIN, the code spent, the user inserted with their
    inviter, the session, the inviter's count, COMMIT. The profile is made inside the transaction from what it
    wrote: after the commit every attribute would be read again, in a transaction of its own.
    """
    codes.consume_code(phone, code, codes.LOGIN)
    joined = sign_up(phone, invite_code)
    created = isinstance(joined, NewUser)
    profile = joined.account if isinstance(joined, NewUser) else _entered(joined, invite_code)
    tokens = sessions.start_session(profile.id)
    if isinstance(joined, NewUser):
        joined.announce()  # last before the commit: it locks the inviter's row, which a campaign's sign-ups share
    db.session.commit()
    if created:
        log.info("user %s signed up as %s", profile.id, mask_phone(phone))
    return SignIn(tokens=tokens, profile=profile, created=created)


@dataclass(frozen=True)
class NewUser:
    account: Account
    inviter_id: int | None

    def announce(self) -> None:
        """Count the new referral on the inviter's row (its lock is held until the commit) and emit the events."""
        account, invite_code = self.account, self.account.activated_invite_code
        inviter: dict[str, Any] | None = None
        if self.inviter_id is not None and invite_code is not None:
            inviter = events.person(self.inviter_id, invites.count_referral(self.inviter_id), invite_code)
            invitee = events.person(account.id, account.phone)
            events.referral_activated(invitee, inviter, invite_code, account.created_at)  # invited as created
        events.user_created(account, inviter)


def sign_up(phone: str, invite_code: str | None = None) -> NewUser | Account:
    """Create the user of ``phone`` with a fresh unique invite code, invited by the owner of ``invite_code`` if
    one is given, in the caller's transaction; the new user (whose ``announce`` the caller calls when it will
    commit), or, if ``phone`` has an account already, that account with its newest referrals.

    One ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` writes the user with their inviter, found by the same
    statement; a taken phone or a taken invite code inserts nothing, and only then is the reason looked up.
    The activation takes no tree lock: no other transaction can see this user before the commit, and nobody
    can have entered their code, so no loop can pass through them (``invites.join_tree`` is for users that
    others may already have invited).
    """
    now = clock.utcnow()
    for _ in range(INVITE_CODE_TRIES):
        own_code = invites.generate_invite_code()
        params = {"phone": phone, "own_code": own_code, "now": now, "invite_code": invite_code}
        try:
            inserted = reads.in_session(NEW_USER if invite_code is None else NEW_INVITED_USER, params)
        except IntegrityError:  # only the foreign key can fail: the inviter it read was deleted before its check
            raise InviteCodeNotFound from None
        if inserted:
            break
        if (existing := account_by_phone(phone, referrals=PROFILE_REFERRALS)) is not None:
            return existing
        if invite_code is not None and invites.owner_of_code(invite_code) is None:
            raise InviteCodeNotFound
        # else the invite code drawn was taken: draw again
    else:
        raise RuntimeError("could not draw a free invite code")
    user_id, inviter_id = inserted[0]
    account = Account(  # nothing about the new user is in the database but what this statement wrote
        id=user_id,
        phone=phone,
        invite_code=own_code,
        first_name="",
        last_name="",
        activated_invite_code=invite_code if inviter_id is not None else None,
        invited_at=now if inviter_id is not None else None,
        referrals_count=0,
        created_at=now,
        newest_referrals=[],
    )
    return NewUser(account, inviter_id)


def _entered(account: Account, invite_code: str | None) -> Account:
    """The existing ``account``, with ``invite_code`` entered for it if one is given."""
    if invite_code is None:
        return account
    already = account.invited_at is not None
    activation = invites.activate_invite(account.id, account.phone, invite_code, already_invited=already)
    return replace(account, activated_invite_code=invite_code, invited_at=activation.invited_at)

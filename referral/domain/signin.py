"""Sign-in with a phone and a one-time code: the first one creates the user, with an optional invite code."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from referral import clock
from referral.domain import codes, events, fraud, invites, qualification, sessions
from referral.domain.account import Account, account_by_phone
from referral.domain.errors import InviteCodeNotFound
from referral.domain.referrals import PROFILE_REFERRALS
from referral.extensions import db
from referral.infra import accounts, referral_tree
from referral.infra.sessions import NewSession
from referral.logs import mask_phone

log = logging.getLogger(__name__)

# A fresh invite code collides with probability ~ users / 32**6 (1% at ten million users); ten in a row never do.
INVITE_CODE_TRIES = 10


@dataclass(frozen=True)
class SignIn:
    tokens: sessions.TokenPair
    profile: Account  # with its newest referrals
    created: bool


def request_login_code(phone: str, language: str | None = None) -> codes.IssuedCode:
    """Send a login code to ``phone`` (the same whether or not it is registered), in ``language`` if given."""
    return codes.issue_code(phone, codes.Purpose.LOGIN, language=language)


def sign_in(
    phone: str,
    code: str,
    invite_code: str | None = None,
    user_agent: str | None = None,
    through_link: bool = False,
    signals: fraud.Signals = fraud.NO_SIGNALS,
) -> SignIn:
    """Spend the login code, find or create the user, apply ``invite_code`` (which came ``through_link`` or was
    typed), start a session and keep its footprint (``signals``): all or nothing. The profile is made inside
    the transaction from what it wrote (after the commit it would be read again)."""
    codes.consume_code(phone, code, codes.Purpose.LOGIN)
    channel = "link" if through_link else "code_at_signup"
    session = sessions.new_session(user_agent, signals)
    joined = sign_up(phone, invite_code, channel, signals, session)
    profile = joined.account if joined.created else _entered(joined.account, invite_code, channel, signals)
    if joined.signed_in:  # the insert started the new user's session
        tokens = sessions.started(profile.id, session)
    else:
        tokens = sessions.start_session(profile.id, session=session)
    if joined.created:
        count_and_announce(joined, channel)  # last before the commit: the count locks a row a campaign's sign-ups share
    db.session.commit()
    if joined.created:
        log.info("user %s signed up as %s", profile.id, mask_phone(phone))
    return SignIn(tokens=tokens, profile=profile, created=joined.created)


@dataclass(frozen=True)
class Joined:
    """Who ``sign_up`` found or made: the account (with its newest referrals), whether it is new, and the id of
    the inviter a new user was made with."""

    account: Account
    created: bool
    inviter_id: int | None = None
    state: str | None = None  # the new referral's, when there is one
    verdict: fraud.Verdict = fraud.Verdict()
    signed_in: bool = False  # whether the session given was started with the new user
    counted: accounts.Counted | None = None  # how the insert counted the referral (as an honest one), if it did


def count_and_announce(joined: Joined, channel: str = "code_at_signup") -> None:
    """For a new user: their referral on the inviter's count (its row stays locked until the commit), and the
    ``referral.activated`` and ``user.created`` events."""
    account, invite_code = joined.account, joined.account.activated_invite_code
    inviter: dict[str, Any] | None = None
    if joined.inviter_id is not None and invite_code is not None:
        qualified = 1 if joined.state == qualification.QUALIFIED else 0
        hold = qualification.hold_for(account.id, joined.state or "", joined.verdict, account.created_at)
        if joined.counted is None:
            phone = invites.count_referral(joined.inviter_id, 1, qualified, hold)
        else:  # the insert counted it as an honest referral stands: a hold takes that back
            phone = joined.counted.inviter_phone
            if hold is not None:
                referral_tree.hold_counted(joined.inviter_id, joined.counted.as_counted, hold)
        inviter = events.person(joined.inviter_id, phone, invite_code)
        invitee = events.person(account.id, account.phone)
        events.referral_activated(invitee, inviter, invite_code, account.created_at, channel)  # invited as created
        qualification.announce_new(invitee, inviter, joined.state or "", joined.verdict, account.created_at)
    events.user_created(account, inviter)


def sign_up(
    phone: str,
    invite_code: str | None = None,
    channel: str = "code_at_signup",
    signals: fraud.Signals = fraud.NO_SIGNALS,
    session: NewSession | None = None,
) -> Joined:
    """Create the user of ``phone`` with a fresh unique invite code, invited by the owner of ``invite_code`` if
    one is given, in the caller's transaction (the caller then calls ``count_and_announce``); or, if ``phone``
    has an account already, that account. A new user's ``session``, if given, may start in the same statement
    (``Joined.signed_in``; else the caller starts it).

    One statement writes the user with their inviter, found by the same statement; a taken phone or a taken
    invite code inserts nothing, and only then is the reason looked up. No tree lock: nobody can have entered
    a new user's code, so no loop can pass through them (``docs/design.md``).
    """
    now = clock.utcnow()
    # Written and counted as an honest referral stands (the count by the insert, where one statement can); if the
    # rules hold it, count_and_announce marks it held and takes back what the count said.
    honest = qualification.first_state(fraud.Verdict())
    ask = fraud.ask_of(signals, now) if invite_code is not None else None
    count = invites.drawn_count(1 if honest == qualification.QUALIFIED else 0) if invite_code is not None else None
    for _ in range(INVITE_CODE_TRIES):
        own_code = invites.generate_invite_code()
        try:
            inserted = accounts.insert_user(phone, own_code, now, invite_code, channel, honest, ask, session, count)
        except accounts.InviterGone:
            raise InviteCodeNotFound from None
        if inserted:
            break
        if (existing := account_by_phone(phone, referrals=PROFILE_REFERRALS)) is not None:
            return Joined(existing, created=False)
        if invite_code is not None and invites.owner_of_code(invite_code) is None:
            raise InviteCodeNotFound
        # else the invite code drawn was taken: draw again
    else:
        raise RuntimeError("could not draw a free invite code")
    user_id, inviter_id, inviter_code, found, signed_in, counted = inserted
    verdict = fraud.judge(found, None, phone, signals) if inviter_id is not None else fraud.Verdict()
    state = qualification.first_state(verdict) if inviter_id is not None else None
    account = Account(  # nothing about the new user is in the database but what this statement wrote
        id=user_id,
        phone=phone,
        invite_code=own_code,
        first_name="",
        last_name="",
        activated_invite_code=inviter_code,  # as issued, whatever case it was typed in
        invited_at=now if inviter_id is not None else None,
        referrals_count=0,
        created_at=now,
        newest_referrals=[],
    )
    return Joined(account, True, inviter_id, state, verdict, signed_in, counted)


def _entered(account: Account, invite_code: str | None, channel: str, signals: fraud.Signals) -> Account:
    """The existing ``account``, with ``invite_code`` entered for it (through ``channel``) if one is given."""
    if invite_code is None:
        return account
    already = account.invited_at is not None
    activation = invites.activate_invite(account.id, account.phone, invite_code, already, channel, signals)
    return replace(account, activated_invite_code=activation.invite_code, invited_at=activation.invited_at)

"""The signed-in account: how every authenticated request knows it, and what its owner may change.

``GET /profile`` is the endpoint clients call most: its whole read is one statement on PostgreSQL
(``infra/accounts.py``). Writes change the row in their own transaction and answer the account with what they
changed, without reading it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from referral import clock
from referral.domain import codes, events, fraud, invites
from referral.domain.errors import TokenRevoked
from referral.domain.referrals import Referral, recent_referral_phones, referral_of
from referral.extensions import db
from referral.infra import accounts, phone_defences, referral_lists


@dataclass(frozen=True, slots=True)
class Account:
    """The signed-in user as a request knows them; ``newest_referrals`` are the phones of the newest
    referrals, newest first, when they were read with the account, else ``None``."""

    id: int
    phone: str
    invite_code: str
    first_name: str
    last_name: str
    activated_invite_code: str | None
    invited_at: datetime | None
    referrals_count: int
    created_at: datetime
    qualified_referrals_count: int = 0
    newest_referrals: list[str] | None = None


def live_account(session_id: str, referrals: int = 0) -> Account | None:
    """The account signed in by the session, if it is neither revoked nor expired; with ``referrals``, the
    phones of that many newest referrals."""
    row = accounts.account_of_session(session_id, clock.utcnow(), referrals)
    return Account(*row) if row is not None else None


def account_by_phone(phone: str, referrals: int = 0) -> Account | None:
    """The account of ``phone``, if there is one (``referrals`` as for ``live_account``)."""
    row = accounts.account_of_phone(phone, referrals)
    return Account(*row) if row is not None else None


def account_by_id(user_id: int) -> Account | None:
    row = accounts.account_of_id(user_id)
    return Account(*row) if row is not None else None


def profile_of(account: Account) -> Account:
    """The profile: the account with the phones of its newest referrals (read unless they were already)."""
    if account.newest_referrals is not None:
        return account
    return replace(account, newest_referrals=recent_referral_phones(account.id))


def update_names(account: Account, names: dict[str, Any]) -> Account:
    """Set ``first_name`` and/or ``last_name`` (already checked and trimmed) and commit; the profile with them."""
    if names and not accounts.rename(account.id, names.get("first_name"), names.get("last_name")):
        raise TokenRevoked  # the user was deleted since the session was checked
    profile = profile_of(replace(account, **names))  # in the transaction: no second one just to read
    db.session.commit()
    return profile


def enter_invite_code(account: Account, invite_code: str, signals: fraud.Signals = fraud.NO_SIGNALS) -> Account:
    """Enter ``invite_code`` (by a request that left ``signals``) and commit; the profile now shows the inviter's
    code (as it was issued) and when."""
    already = account.invited_at is not None
    activation = invites.activate_invite(account.id, account.phone, invite_code, already, signals=signals)
    profile = profile_of(
        replace(account, activated_invite_code=activation.invite_code, invited_at=activation.invited_at)
    )
    db.session.commit()
    return profile


def request_deletion(account: Account, language: str | None = None) -> codes.IssuedCode:
    """Send a code to the account's own phone that confirms deleting it (a fresh proof that its owner asks)."""
    return codes.issue_code(account.phone, codes.Purpose.ACCOUNT_DELETION, user_id=account.id, language=language)


def confirm_deletion(account: Account, code: str) -> int:
    """Spend the deletion code and delete the account (``delete_account``); the referrals detached."""
    codes.consume_code(account.phone, code, codes.Purpose.ACCOUNT_DELETION, user_id=account.id)
    return delete_account(account)


def all_referrals(user_id: int, page_size: int = 1000) -> Iterator[Referral]:
    """Everyone who entered the user's code, newest first, read a page at a time (for an export)."""
    after: tuple[datetime, int] | None = None
    while rows := referral_lists.referrals_after(user_id, page_size, after):
        for row in rows:
            yield referral_of(row)
        after = (rows[-1].invited_at, rows[-1].id)


def codes_sent(phone: str) -> list[phone_defences.SendRow]:
    """The codes sent to ``phone`` that are still on record (sends are purged after a week)."""
    return phone_defences.sends_of_phone(phone)


def delete_account(account: Account) -> int:
    """Delete the account and commit; the number of referrals that were detached.

    The people they invited keep their accounts (and their own referrals) but are no longer anyone's referral,
    so they may enter another invite code. Their inviter counts one referral fewer. Sessions and codes go with
    the user.
    """
    detached = accounts.detach_referrals(account.id)
    inviter_id, state = accounts.delete_user(account.id)
    if inviter_id is not None:
        invites.count_referral(inviter_id, change=-1, qualified=-1 if state == "qualified" else 0)
    events.user_deleted(account.id, account.phone, detached)
    db.session.commit()
    return len(detached)

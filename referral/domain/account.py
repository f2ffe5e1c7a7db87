"""The signed-in account: how every authenticated request reads it, and what its owner may change.

``GET /profile`` is the endpoint clients call most, so its whole read is one query on PostgreSQL: the session's
liveness, the user, their inviter's code and the phones of their newest referrals (an array built by a
correlated subquery on the referral index). It runs on the hot read path (``infra/reads.py``); no ORM object is
made for it. Writes change the row by statements in their own transaction and answer the account with what
they changed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import update

from referral import clock
from referral.domain import events, invites
from referral.domain.errors import TokenRevoked
from referral.domain.referrals import recent_referral_phones
from referral.extensions import db
from referral.infra import reads
from referral.infra.database import dialect_name
from referral.infra.models import User, UTCDateTime


@dataclass(frozen=True, slots=True)
class Account:
    """The signed-in user as a request knows them.

    ``newest_referrals`` are the phones of the newest referrals, newest first, when they were read with the
    account (``live_account(..., referrals=n)``), else ``None``.
    """

    id: int
    phone: str
    invite_code: str
    first_name: str
    last_name: str
    activated_invite_code: str | None
    invited_at: datetime | None
    referrals_count: int
    created_at: datetime
    newest_referrals: list[str] | None = None

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(*(getattr(user, name) for name in USER_FIELDS))


USER_FIELDS = tuple(field.name for field in fields(Account) if field.name != "newest_referrals")

# An account: the user with their inviter's code, found by primary keys (users, users) ...
_ACCOUNT = (
    "SELECT u.id, u.phone, u.invite_code, u.first_name, u.last_name, "
    "(SELECT inviter.invite_code FROM users AS inviter WHERE inviter.id = u.invited_by_id) AS activated_invite_code, "
    "u.invited_at, (SELECT COALESCE(SUM(c.referrals), 0) FROM referral_counts AS c WHERE c.user_id = u.id) "
    "AS referrals_count, u.created_at{referrals} "
)
# ... with ARRAY(SELECT phone ... LIMIT n) of the newest referrals: PostgreSQL only.
_NEWEST_REFERRALS = (
    ", ARRAY(SELECT r.phone FROM users AS r WHERE r.invited_by_id = u.id "
    "ORDER BY r.invited_at DESC, r.id DESC LIMIT :referrals) AS newest_referrals"
)
_TIMESTAMPS = {"invited_at": UTCDateTime(), "created_at": UTCDateTime()}


def _account_reads(source: str) -> tuple[reads.Read, reads.Read]:
    """The account read from ``source`` (FROM and WHERE), without and with the newest referrals."""
    parameters = {"now": UTCDateTime()} if ":now" in source else {}
    return tuple(  # type: ignore[return-value]
        reads.Read(_ACCOUNT.format(referrals=extra) + source, parameters, _TIMESTAMPS)
        for extra in ("", _NEWEST_REFERRALS)
    )


# The user of a live session (sessions by primary key), and the user of a phone (users by unique phone).
LIVE_ACCOUNT, LIVE_ACCOUNT_WITH_REFERRALS = _account_reads(
    "FROM sessions AS s JOIN users AS u ON u.id = s.user_id "
    "WHERE s.id = :session_id AND s.revoked_at IS NULL AND s.expires_at > :now"
)
ACCOUNT_BY_PHONE, ACCOUNT_BY_PHONE_WITH_REFERRALS = _account_reads("FROM users AS u WHERE u.phone = :phone")


def live_account(session_id: str, referrals: int = 0) -> Account | None:
    """The account signed in by the session, if it is neither revoked nor expired.

    With ``referrals``, also the phones of that many newest referrals: in the same query on PostgreSQL, in a
    second one on SQLite, which has no arrays.
    """
    params = {"session_id": session_id, "now": clock.utcnow()}
    return _account((LIVE_ACCOUNT, LIVE_ACCOUNT_WITH_REFERRALS), params, referrals)


def account_by_phone(phone: str, referrals: int = 0) -> Account | None:
    """The account of ``phone``, if there is one (``referrals`` as for ``live_account``)."""
    return _account((ACCOUNT_BY_PHONE, ACCOUNT_BY_PHONE_WITH_REFERRALS), {"phone": phone}, referrals)


def _account(read: tuple[reads.Read, reads.Read], params: dict[str, Any], referrals: int) -> Account | None:
    with_array = referrals > 0 and dialect_name() == "postgresql"
    rows = reads.rows(read[with_array], {**params, "referrals": referrals})
    if not rows:
        return None
    values = rows[0]
    if referrals > 0 and not with_array:
        values += (recent_referral_phones(values[0], referrals),)
    return Account(*values)


def profile_of(user: User | Account) -> Account:
    """The profile of ``user``: the account with the phones of its newest referrals, read by one small query
    unless the account was read with them."""
    account = user if isinstance(user, Account) else Account.of(user)
    if account.newest_referrals is not None:
        return account
    return replace(account, newest_referrals=recent_referral_phones(account.id))


def update_names(account: Account, names: dict[str, Any]) -> Account:
    """Set ``first_name`` and/or ``last_name`` (already trimmed by the schema) and commit.

    The profile that comes back is the account with the new names: nothing else about it changed.
    """
    if names:
        updated = db.session.execute(update(User).where(User.id == account.id).values(**names))
        if updated.rowcount != 1:  # type: ignore[attr-defined]
            raise TokenRevoked  # the user was deleted since the session was checked
    profile = profile_of(replace(account, **names))  # in the transaction: no second one just to read
    db.session.commit()
    return profile


def enter_invite_code(account: Account, invite_code: str) -> Account:
    """Enter ``invite_code`` and commit; the profile now shows the code (the inviter's, as entered) and when."""
    activation = invites.activate_invite(
        account.id, account.phone, invite_code, already_invited=account.invited_at is not None
    )
    profile = profile_of(replace(account, activated_invite_code=invite_code, invited_at=activation.invited_at))
    db.session.commit()
    return profile


def load(account: Account) -> User:
    """The ``User`` row of the signed-in ``account``, for a write in this transaction."""
    user = db.session.get(User, account.id)
    if user is None:  # deleted since the session was checked: its sessions went with it
        raise TokenRevoked
    return user


def delete_user(user: User) -> int:
    """Delete ``user`` and commit; the number of referrals that were detached.

    The people they invited keep their accounts (and their own referrals) but are no longer anyone's referral,
    so they may enter another invite code. The user's inviter counts one referral fewer. Sessions and codes go
    with the user (foreign keys cascade).
    """
    detached = list(
        db.session.scalars(
            update(User)
            .where(User.invited_by_id == user.id)
            .values(invited_by_id=None, invited_at=None)
            .returning(User.id)
        )
    )
    if user.invited_by_id is not None:
        invites.count_referral(user.invited_by_id, change=-1)
    events.user_deleted(user.id, user.phone, sorted(detached))
    db.session.delete(user)
    db.session.commit()
    return len(detached)

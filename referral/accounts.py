"""The signed-in account: read with its session in one query, the way every authenticated request sees it.

``GET /profile`` is the endpoint clients call most, so its whole read is that one query on PostgreSQL: the
session's liveness, the user, their inviter's code and the phones of their newest referrals (an array built by
a correlated subquery on the referral index). No ORM object is made for it; writes change the row by
statements in their own transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from flask import g
from flask_jwt_extended import get_current_user
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from referral import clock
from referral.database import dialect_name, read_rows
from referral.invites import PROFILE_REFERRALS, newest_referrals, recent_referral_phones
from referral.models import AuthSession, User


@dataclass(frozen=True, slots=True)
class Account:
    """The signed-in user as a request knows them.

    ``newest_referrals`` are the phones of the newest referrals, newest first, when the route asked for them
    (``with_newest_referrals``), else ``None``.
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

# Built once: the user of a live session with their inviter's code, by primary keys (sessions, users, users).
_LIVE_ACCOUNT = (
    select(*(getattr(User, name) for name in USER_FIELDS))
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
)
_referral = aliased(User, name="referral")
# The same, with ARRAY((SELECT phone ... LIMIT n)) of the newest referrals: PostgreSQL only.
_LIVE_ACCOUNT_WITH_REFERRALS = _LIVE_ACCOUNT.add_columns(
    func.array(
        newest_referrals(_referral, User.id, _referral.phone)  # type: ignore[arg-type]
        .limit(bindparam("referrals"))
        .correlate(User)
        .scalar_subquery()
    )
)


def live_account(session_id: str, referrals: int = 0) -> Account | None:
    """The account signed in by the session, if it is neither revoked nor expired.

    With ``referrals``, also the phones of that many newest referrals: in the same query on PostgreSQL, in a
    second one on SQLite, which has no arrays.
    """
    params = {"session_id": session_id, "now": clock.utcnow(), "referrals": referrals}
    with_array = referrals > 0 and dialect_name() == "postgresql"
    rows = read_rows(_LIVE_ACCOUNT_WITH_REFERRALS if with_array else _LIVE_ACCOUNT, params)
    if not rows:
        return None
    values = rows[0]
    if referrals > 0 and not with_array:
        values += (recent_referral_phones(values[0], referrals),)
    return Account(*values)


def current_account() -> Account:
    """The signed-in account of this request (a route behind ``jwt_required``).

    The object itself, not flask-jwt-extended's ``current_user`` proxy, whose every attribute read goes through
    the request context again: a profile dump makes about thirty of them.
    """
    account: Account = get_current_user()
    return account


def with_newest_referrals(view: Callable[..., Any]) -> Callable[..., Any]:
    """Read this route's account together with the phones of the newest referrals (goes above ``jwt_required``)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.account_referrals = PROFILE_REFERRALS
        try:
            return view(*args, **kwargs)
        finally:  # g outlives the request where an app context was pushed around it (tests, CLI)
            g.pop("account_referrals", None)

    return wrapper

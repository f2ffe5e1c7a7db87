"""Token pairs: issue, rotate (with reuse detection) and revoke, with the session rows in the database.

Every token carries ``sid``, the id of its row in ``sessions``; a token is good only while that row is live,
so every app process agrees on logouts and revocations. A refresh token is spent by rotation; presenting a
spent one again means it was stolen or replayed, and ends the whole session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token

from referral import clock
from referral.domain import fraud
from referral.domain.audit import security_event
from referral.domain.errors import AccountBlocked, SessionNotFound, TokenRevoked
from referral.domain.text import is_storable
from referral.extensions import db
from referral.infra import sessions as stored_sessions
from referral.infra.devices import browser_and_system


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def new_session(user_agent: str | None = None, signals: fraud.Signals | None = None) -> stored_sessions.NewSession:
    """A session to start on the device of ``user_agent``: its ids drawn, its end set, and the sign-in's footprint
    of ``signals`` if the request left any. A sign-up starts it in the statement that inserts the user
    (``accounts.insert_user``); otherwise ``start_session`` does."""
    kept = user_agent if user_agent and is_storable(user_agent) else None  # a header is any latin-1, NUL too
    footprint = None
    if signals is not None and signals != fraud.NO_SIGNALS:
        footprint = (signals.network, signals.agent_hash, signals.device_id)
    return stored_sessions.NewSession(
        uuid.uuid4().hex, str(uuid.uuid4()), clock.utcnow() + _refresh_ttl(), kept, footprint
    )


def start_session(
    user_id: int,
    user_agent: str | None = None,
    signals: fraud.Signals | None = None,
    session: stored_sessions.NewSession | None = None,
) -> TokenPair:
    """A new session for ``user_id`` on the device of ``user_agent``, in the caller's transaction (one
    statement, with the sign-in's footprint of ``signals`` if the request left any; or the ``session`` drawn
    already), and its first token pair; ``AccountBlocked`` (the caller's transaction rolled back, so a code
    spent in it is not) if staff blocked the user."""
    session = session or new_session(user_agent, signals)
    if not stored_sessions.insert_session(user_id, clock.utcnow(), session):
        db.session.rollback()
        raise AccountBlocked
    return started(user_id, session)


def started(user_id: int, session: stored_sessions.NewSession) -> TokenPair:
    """The first token pair of ``session``, started for ``user_id``."""
    return _token_pair(user_id, session.id, session.refresh_jti)


def rotate_session(session_id: str, refresh_jti: str) -> TokenPair:
    """Spend the refresh token ``refresh_jti`` of the session and commit a new pair for it.

    The swap is one conditional ``UPDATE``; if it finds nothing, the token was spent before: the session is
    revoked and ``TokenRevoked`` raised.
    """
    now = clock.utcnow()
    new_jti = str(uuid.uuid4())
    user_id = stored_sessions.rotate(session_id, refresh_jti, new_jti, now, now + _refresh_ttl())
    if user_id is None:
        if revoke_session(session_id):
            security_event("refresh_token_reused", session=session_id)
        raise TokenRevoked
    db.session.commit()
    return _token_pair(user_id, session_id, new_jti)


def revoke_session(session_id: str) -> bool:
    """End one session (logout) and commit; whether it was live."""
    was_live = stored_sessions.revoke(session_id, clock.utcnow())
    db.session.commit()
    return was_live


def revoke_user_sessions(user_id: int) -> None:
    """End every session of ``user_id`` in the caller's transaction."""
    stored_sessions.revoke_all_of_user(user_id, clock.utcnow())


@dataclass(frozen=True)
class Device:
    """A live session as its owner sees it."""

    id: str
    browser: str | None  # as the user agent says, when it does
    system: str | None
    created_at: datetime
    last_used_at: datetime
    current: bool

    @property
    def device(self) -> str | None:
        """ "Chrome on Android", either part alone, or ``None`` (the API's wording; the pages say it themselves)."""
        if self.browser and self.system:
            return f"{self.browser} on {self.system}"
        return self.browser or self.system


def devices(user_id: int, current_session_id: str | None) -> list[Device]:
    """The user's live sessions, the most recently used first; ``current`` is the one asking."""
    return [
        Device(
            row.id, *browser_and_system(row.user_agent), row.created_at, row.last_used_at, row.id == current_session_id
        )
        for row in stored_sessions.live_of_user(user_id, clock.utcnow())
    ]


def end_device(user_id: int, session_id: str) -> None:
    """End one of the user's live sessions and commit; ``SessionNotFound`` if they have no such one."""
    revoke_user_session(user_id, session_id)
    db.session.commit()


def revoke_user_session(user_id: int, session_id: str) -> None:
    """End one of the user's live sessions in the caller's transaction; ``SessionNotFound`` if none."""
    if not stored_sessions.revoke_one_of_user(user_id, session_id, clock.utcnow()):
        raise SessionNotFound


def end_other_devices(user_id: int, current_session_id: str) -> int:
    """End every live session of the user but the one asking, and commit; how many ended."""
    ended = stored_sessions.revoke_others_of_user(user_id, current_session_id, clock.utcnow())
    db.session.commit()
    return ended


def _token_pair(user_id: int, session_id: str, refresh_jti: str) -> TokenPair:
    access_ttl = current_app.config["ACCESS_TOKEN_TTL_SECONDS"]
    identity = str(user_id)
    return TokenPair(
        access_token=create_access_token(
            identity, additional_claims={"sid": session_id}, expires_delta=timedelta(seconds=access_ttl)
        ),
        refresh_token=create_refresh_token(
            identity, additional_claims={"sid": session_id, "jti": refresh_jti}, expires_delta=_refresh_ttl()
        ),
        expires_in=access_ttl,
    )


def _refresh_ttl() -> timedelta:
    return timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL_SECONDS"])

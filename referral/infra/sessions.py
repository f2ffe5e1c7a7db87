"""Sign-in sessions (``sessions``): one row per sign-in, holding the refresh token's id; a token is good only
while its row is neither revoked nor expired."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import fraud_signals, sql
from referral.infra.database import dialect_name
from referral.infra.devices import USER_AGENT_KEPT
from referral.infra.models import UTCDateTime

# A new session, for a user not blocked by staff (no row otherwise: the same one statement either way).
NEW_SESSION = sql.Statement(
    """
    INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at, user_agent, last_used_at)
    SELECT :session_id, id, :jti, :now, :expires_at, :user_agent, :now FROM users
    WHERE id = :user_id AND blocked_at IS NULL
    RETURNING id
    """,
    {"now": UTCDateTime(), "expires_at": UTCDateTime()},
)

# NEW_SESSION with the sign-in's footprint for the fraud rules, in one round trip (PostgreSQL; SQLite, which has
# no INSERT inside WITH, runs the two statements).
NEW_SESSION_WITH_FOOTPRINT = sql.Statement(
    """
    WITH started AS (
        INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at, user_agent, last_used_at)
        SELECT :session_id, id, :jti, :now, :expires_at, :user_agent, :now FROM users
        WHERE id = :user_id AND blocked_at IS NULL
        RETURNING id, user_id
    ),
    footprint AS (
        INSERT INTO footprints (user_id, seen_at, kind, network, agent_hash, device_id)
        SELECT user_id, :now, 'sign_in', :footprint_network, :footprint_agent, :footprint_device FROM started
    )
    SELECT id FROM started
    """,
    {"now": UTCDateTime(), "expires_at": UTCDateTime()},
)

# The first session of the user that a sign-up's statement inserts (its part new_user, PostgreSQL), with the
# sign-in's footprint when :footprint: NEW_SESSION_WITH_FOOTPRINT for a user who did not exist a moment ago
# (nobody blocked them yet), written by the insert's own round trip (accounts.NEW_USER_SIGNED_IN).
FIRST_SESSION_CTES = """
    first_session AS (
        INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at, user_agent, last_used_at)
        SELECT :session_id, id, :jti, :now, :expires_at, :user_agent, :now FROM new_user
        RETURNING user_id
    ),
    first_footprint AS (
        INSERT INTO footprints (user_id, seen_at, kind, network, agent_hash, device_id)
        SELECT user_id, :now, 'sign_in', :footprint_network, :footprint_agent, :footprint_device FROM first_session
        WHERE :footprint
    )
"""


class NewSession(NamedTuple):
    """A session about to start, its ids drawn and its end set; the device it is for, and the sign-in's footprint
    (network, agent hash, device id) if the request left one."""

    id: str
    refresh_jti: str
    expires_at: datetime
    user_agent: str | None
    footprint: tuple[str | None, str | None, str | None] | None

    def params(self) -> dict[str, object]:
        """The parameters of the statements that start it (NEW_SESSION, NEW_SESSION_WITH_FOOTPRINT,
        FIRST_SESSION_CTES), but :now and :user_id, the statement's own."""
        network, agent_hash, device_id = self.footprint or (None, None, None)
        return {
            "session_id": self.id,
            "jti": self.refresh_jti,
            "expires_at": self.expires_at,
            "user_agent": self.user_agent[:USER_AGENT_KEPT] if self.user_agent else None,
            "footprint": self.footprint is not None,
            "footprint_network": network,
            "footprint_agent": agent_hash,
            "footprint_device": device_id,
        }


# Swap the refresh token for a new one, only if it is the session's live one; the session's user.
ROTATE = sql.Statement(
    """
    UPDATE sessions SET refresh_jti = :new_jti, expires_at = :expires_at, last_used_at = :now
    WHERE id = :id AND refresh_jti = :jti AND revoked_at IS NULL AND expires_at > :now
    RETURNING user_id
    """,
    {"now": UTCDateTime(), "expires_at": UTCDateTime()},
)

REVOKE = sql.Statement(
    "UPDATE sessions SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL RETURNING id", {"now": UTCDateTime()}
)

REVOKE_ALL_OF_USER = sql.Statement(
    "UPDATE sessions SET revoked_at = :now WHERE user_id = :user_id AND revoked_at IS NULL", {"now": UTCDateTime()}
)

# The user's live sessions, the most recently used first.
LIVE_OF_USER = sql.Statement(
    """
    SELECT id, user_agent, created_at, COALESCE(last_used_at, created_at) AS last_used_at FROM sessions
    WHERE user_id = :user_id AND revoked_at IS NULL AND expires_at > :now
    ORDER BY last_used_at DESC, created_at DESC
    """,
    {"now": UTCDateTime()},
    {"created_at": UTCDateTime(), "last_used_at": UTCDateTime()},
)

REVOKE_ONE_OF_USER = sql.Statement(
    """
    UPDATE sessions SET revoked_at = :now
    WHERE id = :id AND user_id = :user_id AND revoked_at IS NULL AND expires_at > :now
    RETURNING id
    """,
    {"now": UTCDateTime()},
)

REVOKE_OTHERS_OF_USER = sql.Statement(
    """
    UPDATE sessions SET revoked_at = :now
    WHERE user_id = :user_id AND id <> :keep AND revoked_at IS NULL AND expires_at > :now
    RETURNING id
    """,
    {"now": UTCDateTime()},
)


class SessionRow(NamedTuple):
    id: str
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime


def insert_session(user_id: int, now: datetime, session: NewSession) -> bool:
    """Whether ``session`` was started for ``user_id`` (not for a blocked user), with the footprint of its
    sign-in if it has one."""
    params = session.params() | {"user_id": user_id, "now": now}
    if session.footprint is None:
        return bool(sql.run(NEW_SESSION, params))
    if dialect_name() == "postgresql":
        return bool(sql.run(NEW_SESSION_WITH_FOOTPRINT, params))
    if not sql.run(NEW_SESSION, params):
        return False
    network, agent_hash, device_id = session.footprint
    footprint = {"network": network, "agent_hash": agent_hash, "device_id": device_id}
    sql.run(fraud_signals.NEW_FOOTPRINT, footprint | {"user_id": user_id, "kind": "sign_in", "at": now})
    return True


def rotate(session_id: str, refresh_jti: str, new_jti: str, now: datetime, expires_at: datetime) -> int | None:
    """Give the session ``new_jti`` if ``refresh_jti`` is its live refresh token; the session's user, else ``None``."""
    params = {"id": session_id, "jti": refresh_jti, "new_jti": new_jti, "now": now, "expires_at": expires_at}
    rows = sql.run(ROTATE, params)
    return rows[0][0] if rows else None


def revoke(session_id: str, now: datetime) -> bool:
    """End the session; whether it was live."""
    return bool(sql.run(REVOKE, {"id": session_id, "now": now}))


def revoke_all_of_user(user_id: int, now: datetime) -> None:
    sql.run(REVOKE_ALL_OF_USER, {"user_id": user_id, "now": now})


def live_of_user(user_id: int, now: datetime) -> list[SessionRow]:
    return [SessionRow(*row) for row in sql.run(LIVE_OF_USER, {"user_id": user_id, "now": now})]


def revoke_one_of_user(user_id: int, session_id: str, now: datetime) -> bool:
    """End the user's live session ``session_id``; whether there was one."""
    return bool(sql.run(REVOKE_ONE_OF_USER, {"user_id": user_id, "id": session_id, "now": now}))


def revoke_others_of_user(user_id: int, keep: str, now: datetime) -> int:
    """End every live session of the user but ``keep``; how many."""
    return len(sql.run(REVOKE_OTHERS_OF_USER, {"user_id": user_id, "keep": keep, "now": now}))

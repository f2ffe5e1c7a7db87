"""Sign-in sessions (``sessions``): one row per sign-in, holding the refresh token's id; a token is good only
while its row is neither revoked nor expired."""

from __future__ import annotations

from datetime import datetime

from referral.infra import sql
from referral.infra.models import UTCDateTime

NEW_SESSION = sql.Statement(
    """
    INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at)
    VALUES (:id, :user_id, :jti, :now, :expires_at)
    """,
    {"now": UTCDateTime(), "expires_at": UTCDateTime()},
)

# Swap the refresh token for a new one, only if it is the session's live one; the session's user.
ROTATE = sql.Statement(
    """
    UPDATE sessions SET refresh_jti = :new_jti, expires_at = :expires_at
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


def insert_session(session_id: str, user_id: int, refresh_jti: str, now: datetime, expires_at: datetime) -> None:
    params = {"id": session_id, "user_id": user_id, "jti": refresh_jti, "now": now, "expires_at": expires_at}
    sql.run(NEW_SESSION, params)


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

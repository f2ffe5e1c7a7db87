"""The programme's server-to-server API keys (``api_keys``), hashed."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
from referral.infra.models import UTCDateTime

AT = {"at": UTCDateTime()}

NEW_KEY = sql.Statement(
    "INSERT INTO api_keys (id, name, secret_hash, created_at) VALUES (:key_id, :name, :secret_hash, :at)", AT
)

REVOKE = sql.Statement(
    "UPDATE api_keys SET revoked_at = :at WHERE id = :key_id AND revoked_at IS NULL RETURNING id", AT
)

LIVE_KEY = sql.Statement("SELECT id, secret_hash FROM api_keys WHERE id = :key_id AND revoked_at IS NULL")


class LiveKey(NamedTuple):
    id: str
    secret_hash: str


class KeyRow(NamedTuple):
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


ALL_KEYS = sql.Statement(
    "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at DESC",
    column_types={"created_at": UTCDateTime(), "revoked_at": UTCDateTime()},
)


def insert(key_id: str, name: str, secret_hash: str, at: datetime) -> None:
    sql.run(NEW_KEY, {"key_id": key_id, "name": name, "secret_hash": secret_hash, "at": at})


def revoke(key_id: str, at: datetime) -> bool:
    return bool(sql.run(REVOKE, {"key_id": key_id, "at": at}))


def live_key(key_id: str) -> LiveKey | None:
    rows = sql.read(LIVE_KEY, {"key_id": key_id})
    return LiveKey(*rows[0]) if rows else None


def all_keys() -> list[KeyRow]:
    return [KeyRow(*row) for row in sql.run(ALL_KEYS, {})]

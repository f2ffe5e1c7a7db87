"""The few places where PostgreSQL and SQLite need different SQL, behind one name each."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite

from referral.extensions import db


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def upsert(model: Any) -> Any:
    """``INSERT`` that supports ``on_conflict_do_update`` on both databases (same API on each)."""
    return (postgresql if dialect_name() == "postgresql" else sqlite).insert(model)


def lock_for_transaction(key: int) -> None:
    """Serialise transactions that take the same ``key`` until they end.

    A PostgreSQL transaction-level advisory lock. SQLite runs one writer at a time anyway, so it needs none.
    """
    if dialect_name() == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

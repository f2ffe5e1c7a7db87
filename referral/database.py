"""The few places where PostgreSQL and SQLite need different SQL, behind one name each."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import Engine, event, text
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


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave like the database the code is written for.

    Python's sqlite3 driver opens transactions late and on its own terms, which breaks savepoints; SQLAlchemy's
    documented fix is to switch that off and say ``BEGIN`` ourselves. ``IMMEDIATE`` takes the write lock at
    the start, so concurrent requests of the development server queue up instead of failing half way. Foreign
    keys are off in SQLite unless asked for.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.execute("PRAGMA busy_timeout = 10000")

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def autocommit_reads() -> None:
    """Let an API ``GET`` run its queries without a transaction on PostgreSQL.

    A ``GET`` only reads, and a transaction around two reads costs two more round trips (``BEGIN`` and
    ``ROLLBACK``) than the reads themselves: on ``GET /profile`` that is half the database time. Writes never
    come here: every other method keeps its transaction.
    """
    if request.method != "GET" or not request.path.startswith("/api/") or db.session().in_transaction():
        return
    if dialect_name() == "postgresql":
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

"""The few places where PostgreSQL and SQLite need different SQL, behind one name each."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, event, text
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


def read_connection() -> Connection:
    """The connection for a request's plain reads: Core statements that make no ORM objects.

    An API ``GET`` only reads. With ``DB_AUTOCOMMIT_READS`` on PostgreSQL it reads on a connection of the
    ``reads`` engine, whose connections are in autocommit mode (see ``create_app``): outside any transaction and
    outside the ORM session, so no ``BEGIN`` and ``ROLLBACK`` round trips around its query and none of the
    session's bookkeeping. The connection goes back to the pool when the request ends
    (``release_read_connection``). Every other request, a ``GET`` whose session has begun already, and code
    outside requests read in the session's transaction, beside its writes.
    """
    if not _reads_outside_transaction():
        return db.session.connection()
    connection: Connection | None = g.get("read_connection")
    if connection is None:
        connection = db.engines["reads"].connect()
        g.read_connection = connection
    return connection


def _reads_outside_transaction() -> bool:
    return (
        has_request_context()
        and request.method == "GET"
        and request.path.startswith("/api/")
        and current_app.config["DB_AUTOCOMMIT_READS"]
        and "reads" in db.engines
        and not (db.session.registry.has() and db.session().in_transaction())
    )


def release_read_connection(error: BaseException | None = None) -> None:
    connection: Connection | None = g.pop("read_connection", None)
    if connection is not None:
        connection.close()

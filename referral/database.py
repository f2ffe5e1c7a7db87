"""The few places where PostgreSQL and SQLite need different SQL, behind one name each."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from flask import current_app, g, has_request_context, request
from sqlalchemy import Dialect, Engine, PoolProxiedConnection, Select, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from referral.extensions import db


def dialect_name() -> str:
    return db.engine.dialect.name  # type: ignore[no-any-return]


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


class _ReadConnection(NamedTuple):
    """A request's connection of the ``reads`` engine, checked out of its pool without a ``Connection`` around it."""

    pooled: PoolProxiedConnection
    dialect: Dialect


def read_rows(statement: Select[Any], params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a Core ``SELECT``, as plain tuples in its column order: the reads of every authenticated request.

    Where they run: an API ``GET`` only reads, so with ``DB_AUTOCOMMIT_READS`` on PostgreSQL it reads on a
    connection of the ``reads`` engine, whose connections are in autocommit mode (see ``create_app``): no
    ``BEGIN`` and ``ROLLBACK`` round trips around the query and none of the ORM session's bookkeeping. The
    request keeps that connection until it ends (``release_read_connection``). Everything else (writes, a
    ``GET`` whose session has begun, code outside requests) reads in the session's transaction.

    How: on PostgreSQL the statement's SQL, compiled by SQLAlchemy once per process, runs on the psycopg
    connection itself, on a cursor kept with it, with SQLAlchemy's own type processing of the parameters and
    columns. SQLAlchemy's execution machinery around one read (cache lookup, parameter and result set-up,
    ``Row`` objects, a ``Connection`` per checkout) cost more CPU than psycopg itself here. psycopg prepares
    the statement on the server from its fifth run on a connection. SQLAlchemy still owns the connection (pool,
    transaction); a failure is raised as SQLAlchemy's error, for the same handlers, and a connection found
    broken is invalidated, as SQLAlchemy would.
    """
    reads: _ReadConnection | None = g.get("read_connection") if has_request_context() else None
    if reads is None and _reads_outside_transaction():
        engine = db.engines["reads"]
        reads = g.read_connection = _ReadConnection(engine.raw_connection(), engine.dialect)
    if reads is not None:
        return _run(statement, params, reads.pooled, reads.dialect, reads.pooled.invalidate)
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return [tuple(row) for row in connection.execute(statement, params)]
    return _run(statement, params, connection.connection, connection.dialect, connection.invalidate)


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
    reads: _ReadConnection | None = g.pop("read_connection", None)
    if reads is not None:
        reads.pooled.close()


def _run(
    statement: Select[Any],
    params: Mapping[str, Any],
    pooled: PoolProxiedConnection,
    dialect: Dialect,
    invalidate: Callable[[BaseException], None],
) -> list[tuple[Any, ...]]:
    compiled = _compiled(statement, dialect)
    values = compiled.parameters(params)
    cursor = pooled.info.get("read_cursor")
    if cursor is None:  # one per database connection, for as long as it lives
        cursor = pooled.info["read_cursor"] = pooled.driver_connection.cursor()  # type: ignore[union-attr]
    driver_error = dialect.loaded_dbapi.Error
    try:
        cursor.execute(compiled.sql, values)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    except driver_error as error:
        broken = dialect.is_disconnect(error, pooled.driver_connection, cursor)
        if broken:
            invalidate(error)
        raise DBAPIError.instance(compiled.sql, values, error, driver_error, connection_invalidated=broken) from error
    return [compiled.row(row) for row in rows] if compiled.has_result_processing else rows


@dataclass(frozen=True)
class _CompiledRead:
    """A statement's SQL for one dialect, with the type processors of its parameters and columns."""

    sql: str
    binds: Mapping[str, Callable[[Any], Any] | None]
    columns: tuple[Callable[[Any], Any] | None, ...]

    @functools.cached_property
    def has_result_processing(self) -> bool:  # asked on every read; the columns never change
        return any(self.columns)

    def parameters(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            name: value if (process := self.binds.get(name)) is None else process(value)
            for name, value in params.items()
            if name in self.binds
        }

    def row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value) for process, value in zip(self.columns, row, strict=True)
        )


@functools.cache
def _compiled(statement: Select[Any], dialect: Dialect) -> _CompiledRead:
    compiled = statement.compile(dialect=dialect)
    return _CompiledRead(
        sql=str(compiled),
        binds={name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()},
        columns=tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in statement.selected_columns
        ),
    )

"""Statements written out whole as plain SQL (a ``Statement``), and where they run.

Every statement of the app that is not the ORM's is a ``Statement``: written once, in SQL that PostgreSQL and
SQLite both speak, with ``:name`` parameters, in the ``infra/`` module of its table. ``run`` executes one in the
request's transaction (writes, and the reads inside them); ``read`` is the hot read path: outside any
transaction, on this module's autocommit psycopg pool, when the HTTP layer allows it (an API ``GET`` on
PostgreSQL), else as ``run`` does (``docs/design.md``, "The hot read path"). Both give the same rows: tuples
in the order of the ``SELECT``, timestamps aware and in UTC; a database that cannot answer is a 503.
"""

from __future__ import annotations

import functools
import logging
import os
import textwrap
import threading
import weakref
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from flask import Flask, current_app
from psycopg_pool import ConnectionPool, PoolTimeout
from sqlalchemy import TextClause, bindparam, make_url, text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialects
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from referral.extensions import READ_POOL, db
from referral.infra.database import connect_arguments

log = logging.getLogger(__name__)

APPLICATION_NAME = "referral-reads"  # how an operator tells these connections apart in pg_stat_activity
_outside_transactions: ContextVar[bool] = ContextVar("read_outside_transactions", default=False)
TIMESTAMPTZ_OID = 1184
# How long the pool retries one connection before it gives up on that attempt; the next read that finds no
# connection starts a new one at once (docs/design.md, "The hot read path": the default let reads fail for
# seconds after an outage).
RECONNECT_SECONDS = 1.0


# Larger than any BIGINT id: "before" the first page of a list read newest first by id.
NEWEST_ID = 2**63 - 1


class DatabaseUnavailable(Exception):
    """The database could not answer a read (down, unreachable, too slow, or the pool is exhausted)."""


@dataclass(frozen=True)
class Statement:
    """One SQL statement, with the SQLAlchemy types of the parameters and columns that need converting on
    SQLite (timestamps); psycopg needs none of them."""

    sql: str
    parameter_types: Mapping[str, TypeEngine[Any]] = field(default_factory=dict)
    column_types: Mapping[str, TypeEngine[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sql", textwrap.dedent(self.sql).strip())  # as laid out in the source, unindented

    @functools.cached_property
    def psycopg_sql(self) -> str:
        """The statement with psycopg's ``%(name)s`` parameters, as SQLAlchemy's compiler writes it for psycopg:
        with the casts it renders for the declared ``parameter_types`` (``:status IS NULL`` needs one)."""
        return str(self.clause.compile(dialect=psycopg_dialect()))

    @functools.cached_property
    def clause(self) -> TextClause:
        binds = [bindparam(name, type_=type_) for name, type_ in self.parameter_types.items()]
        return text(self.sql).bindparams(*binds).columns(**self.column_types)  # type: ignore[return-value]


def read(statement: Statement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of the read ``statement``, on the pool when the caller reads outside transactions."""
    pool: ReadPool | None = current_app.extensions.get(READ_POOL)
    in_transaction = _session_in_transaction()
    if pool is not None and _outside_transactions.get() and not in_transaction:
        return pool.rows(statement, params)
    return run(statement, params, in_transaction)


def run(statement: Statement, params: Mapping[str, Any], in_transaction: bool | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` (any statement: ``RETURNING`` gives rows) in the ORM session's transaction,
    opened if none is. As plain SQL it skips what building an ORM statement costs per request."""
    if in_transaction is None:
        in_transaction = _session_in_transaction()
    try:
        return _in_session(statement, params)
    except DBAPIError as error:
        if in_transaction or not error.connection_invalidated:
            raise
        # The statement opened the transaction on a connection that had died: nothing was written in it yet,
        # so it is run again on a fresh one (SQLAlchemy has invalidated the pool's older connections).
        db.session.rollback()
        return _in_session(statement, params)


def _in_session(statement: Statement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """On PostgreSQL, the statement goes to the session's own psycopg connection, in the session's transaction:
    a statement through SQLAlchemy's execution (its compiled cache, execution context and result) cost about
    as much CPU as psycopg's own work (bench/RESULTS.md, eighteenth round). What SQLAlchemy would have done
    for it is done here: a naive timestamp refused, timestamps read in UTC, psycopg's errors raised as
    SQLAlchemy's (what callers catch, and what the error path answers 503 to), and a dead connection left for
    SQLAlchemy to find, so that it invalidates it and the pool's older ones as for any statement of its own."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return _rows_of(connection.execute(statement.clause, params))
    for value in params.values():
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use referral.clock.utcnow()")
    driver: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
    try:
        cursor = driver.execute(statement.psycopg_sql, params)  # type: ignore[arg-type]
        found = cursor.fetchall() if cursor.description is not None else []
    except psycopg.Error as error:
        if driver.broken or driver.closed:
            connection.execute(statement.clause, params)  # raises, SQLAlchemy's way, with the pool invalidated
        raise DBAPIError.instance(statement.psycopg_sql, params, error, psycopg.Error) from error
    if found and str(driver.info.timezone) != "UTC":
        found = _in_utc(found, cursor.description or [])
    return found


def _rows_of(result: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in result] if result.returns_rows else []


def read_outside_transactions(allowed: bool) -> None:
    """Whether this request's reads may run outside a transaction (the HTTP layer decides per request)."""
    _outside_transactions.set(allowed)


def _session_in_transaction() -> bool:
    return db.session.registry.has() and db.session().in_transaction()


class ReadPool:
    """Autocommit psycopg connections for reads, opened on first use in each process (after gunicorn's fork)."""

    def __init__(self, url: str, config: Mapping[str, Any]) -> None:
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.config = config
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        _every_pool.add(self)

    def rows(self, statement: Statement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        pool = self._pool or self._open()
        try:
            try:
                return _fetch(pool, statement.psycopg_sql, params)
            except _ConnectionDied:
                log.warning("a pooled read connection had died; checking the pool and reading again")
                pool.check()
                return _fetch(pool, statement.psycopg_sql, params)
        except (_ConnectionDied, psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as error:
            raise DatabaseUnavailable(str(error)) from error

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _open(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                config = self.config
                self._pool = ConnectionPool(
                    self.conninfo,
                    min_size=1,
                    max_size=max(1, config["DB_POOL_SIZE"]),
                    timeout=config["DB_POOL_TIMEOUT_SECONDS"],
                    max_lifetime=config["DB_POOL_RECYCLE_SECONDS"],
                    reconnect_timeout=RECONNECT_SECONDS,
                    kwargs=connection_options(config),
                    name="reads",
                    open=False,
                )
                self._pool.open(wait=False)
            return self._pool

    def forget_after_fork(self) -> None:
        """In a forked child the parent's pool (its threads, its sockets) is not ours to use."""
        self._pool = None
        self._lock = threading.Lock()


_every_pool: weakref.WeakSet[ReadPool] = weakref.WeakSet()


def _forget_pools_after_fork() -> None:
    for pool in _every_pool:
        pool.forget_after_fork()


os.register_at_fork(after_in_child=_forget_pools_after_fork)


class _ConnectionDied(Exception):
    pass


def _fetch(pool: ConnectionPool, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    with pool.connection() as connection:
        try:
            cursor = connection.execute(sql, params)  # type: ignore[arg-type]
            found = cursor.fetchall()
        except psycopg.OperationalError as error:
            if connection.broken:  # the pool drops it on return
                raise _ConnectionDied(str(error)) from error
            raise
        if found and str(connection.info.timezone) != "UTC":  # TimeZone=UTC was not applied (a proxy dropped it)
            found = _in_utc(found, cursor.description or [])
        return found


def _in_utc(found: list[tuple[Any, ...]], description: Sequence[Any]) -> list[tuple[Any, ...]]:
    stamps = {index for index, column in enumerate(description) if column.type_code == TIMESTAMPTZ_OID}
    return [
        tuple(
            value.astimezone(UTC) if index in stamps and value is not None else value for index, value in enumerate(row)
        )
        for row in found
    ]


def connection_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg ``connect`` arguments for the read connections: the app's, in autocommit mode and UTC."""
    return {
        **connect_arguments(config, "TimeZone=UTC"),
        "application_name": APPLICATION_NAME,
        "autocommit": True,
    }


def init_read_pool(app: Flask) -> None:
    """On PostgreSQL, the reads pool, on ``DATABASE_REPLICA_URL`` when set; SQLite reads in the session."""
    url = app.config.get("DATABASE_REPLICA_URL") or app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        app.extensions[READ_POOL] = ReadPool(url, app.config)


@functools.cache
def psycopg_dialect() -> Any:
    return psycopg_dialects.dialect()

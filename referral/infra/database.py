"""The few places where PostgreSQL and SQLite need different SQL, behind one name each.

The hot reads of every authenticated request are in ``reads.py``; everything else goes through the ORM session.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from referral.extensions import db
from referral.infra import metrics, models  # noqa: F401  (the tables must be known to Flask-Migrate)


def init_database(app: Flask) -> None:
    """Bind the ORM to ``DATABASE_URL``; without one, a SQLite file in the instance folder (the zero-setup
    development default). SQLite has no server to pool connections to: the pool settings are PostgreSQL's."""
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{os.path.join(app.instance_path, 'referral.db')}"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    else:
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            "connect_args": connect_arguments(app.config),
        }
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        metrics.watch_pools(list(db.engines.values()))


def connect_arguments(config: Mapping[str, Any], *server_settings: str) -> dict[str, Any]:
    """psycopg ``connect`` arguments of every PostgreSQL connection the app opens: bounded waits, the
    statement timeout and any other ``server_settings`` (``name=value``), the prepare threshold."""
    settings = [f"statement_timeout={config['DB_STATEMENT_TIMEOUT_MS']}", *server_settings]
    return {
        "connect_timeout": config["DB_CONNECT_TIMEOUT_SECONDS"],
        "options": " ".join(f"-c {setting}" for setting in settings),
        "prepare_threshold": config["DB_PREPARE_THRESHOLD"],
    }


def database_answers() -> bool:
    """Whether the database answers ``SELECT 1`` now. A pooled connection found dead (the server restarted) is
    not an answer about the database: SQLAlchemy invalidates it and the pool's older ones, and it is asked once
    more on a fresh connection, so that readiness turns with the database, not a probe later."""
    for attempt in (1, 2):
        try:
            db.session.execute(text("SELECT 1"))
            return True
        except DBAPIError as error:
            db.session.rollback()
            if attempt == 2 or not error.connection_invalidated:
                return False
    return False


def dialect_name() -> str:
    return db.engine.dialect.name  # type: ignore[no-any-return]


def upsert(model: Any) -> Any:
    """``INSERT`` that supports ``on_conflict_do_update`` on both databases (same API on each)."""
    return (postgresql if dialect_name() == "postgresql" else sqlite).insert(model)


def without_statement_timeout() -> None:
    """For the rest of this transaction, no ``DB_STATEMENT_TIMEOUT_MS``: the operators' bulk commands (seeding,
    purging) take longer than a request may."""
    if dialect_name() == "postgresql":
        db.session.execute(text("SET LOCAL statement_timeout = 0"))


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

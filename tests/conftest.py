"""Fixtures: one app and one migrated database per run; each test rolled back, unless it must commit.

Which database: ``TEST_DATABASE_URL`` when set; otherwise a throwaway PostgreSQL cluster started for the
run where PostgreSQL's server binaries are installed (``tests/pg_cluster.py``); only where neither exists,
SQLite, with a notice in the report header of what that leaves untested.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event, text
from sqlalchemy.orm import scoped_session, sessionmaker

from config import normalise_database_url
from referral import clock as clock_module
from referral import create_app
from referral.domain import rewards
from referral.extensions import db, limiter
from referral.infra.sms import outbox
from tests import factories as model_factories
from tests import pg_cluster


def _database_plan() -> str:
    if os.environ.get("TEST_DATABASE_URL"):
        return "url"
    return "throwaway" if pg_cluster.usable() else "sqlite"


PLAN = _database_plan()


def pytest_report_header(config: pytest.Config) -> list[str]:
    if PLAN == "url":
        return ["database: TEST_DATABASE_URL"]
    if PLAN == "throwaway":
        return [f"database: a throwaway PostgreSQL cluster ({pg_cluster.find_bindir()})"]
    return [
        "database: SQLite. NOTICE: no TEST_DATABASE_URL and no PostgreSQL server binaries, so the",
        "  PostgreSQL-only tests (row locks under concurrency, advisory locks, EXPLAIN plans) are skipped.",
    ]


@contextmanager
def _database_url(tmp_dir: str) -> Iterator[str]:
    if PLAN == "url":
        yield normalise_database_url(os.environ["TEST_DATABASE_URL"]) or ""
    elif PLAN == "throwaway":
        with pg_cluster.throwaway_cluster() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_dir}/referral-test.db"


def _reset_schema() -> None:
    """Start from an empty database, then build it with the migrations (which are tested this way too)."""
    with db.engine.begin() as connection:
        for view in ("accounts", "invite_codes"):  # the migrations made them; drop_all knows tables
            connection.execute(text(f"DROP VIEW IF EXISTS {view}"))
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


@pytest.fixture(scope="session")
def _app() -> Iterator[Flask]:
    tmp_dir = tempfile.mkdtemp(prefix="referral-test-")
    with _database_url(tmp_dir) as url:
        app = create_app(
            {
                "APP_ENV": "testing",
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "test-secret-key-" + "x" * 32,
                "JWT_SECRET_KEY": "test-jwt-secret-key-" + "x" * 32,
            }
        )
        with app.app_context():
            _reset_schema()
            yield app
            db.session.remove()
            db.engine.dispose()
    shutil.rmtree(tmp_dir, ignore_errors=True)


class BoundSession(FlaskSession):
    """A Flask-SQLAlchemy session that always uses the test's connection (whose transaction is rolled back)."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.bind


@pytest.fixture
def app(_app: Flask, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app, with every write of the test undone afterwards.

    Tests marked ``committing`` (threads, several connections) commit for real and empty the tables after.
    """
    outbox(_app).clear()
    limiter.reset()
    rewards.forget_rules()  # each process keeps the rules a few seconds; a test's rules end with it
    for key, value in list(_app.config.items()):
        monkeypatch.setitem(_app.config, key, value)  # a test may change settings; they come back
    if request.node.get_closest_marker("committing"):
        yield _app
        _empty_tables()
        return
    connection = db.engine.connect()
    transaction = connection.begin()
    original = db.session
    db.session = scoped_session(
        sessionmaker(class_=BoundSession, db=db, bind=connection, join_transaction_mode="create_savepoint"),
        scopefunc=threading.get_ident,  # the test's thread: tests that use threads commit (``committing``)
    )
    try:
        yield _app
    finally:
        db.session.remove()
        db.session = original
        transaction.rollback()
        connection.close()


def _empty_tables() -> None:
    db.session.remove()
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def redis_url() -> str:
    """A Redis for the tests that need one (``TEST_REDIS_URL``, database 15 by default), or a skip."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {url} (set TEST_REDIS_URL)")
    return url


@pytest.fixture
def autocommit_reads_on(app: Flask) -> None:
    app.config["DB_AUTOCOMMIT_READS"] = True  # as outside tests (the app fixture puts the setting back)


@pytest.fixture
def postgres_only(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (see the report header)")


@dataclass
class Clock:
    """The app's clock, stopped, moved by hand."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    stopped = Clock()
    monkeypatch.setattr(clock_module, "utcnow", stopped)
    return stopped


@pytest.fixture
def sms(app: Flask) -> list[tuple[str, str]]:
    """The messages the app has sent, oldest first."""
    return outbox(app)


@dataclass
class Api:
    """The calls most tests make, spelled once."""

    client: FlaskClient

    def request_code(self, phone: str) -> str:
        response = self.client.post("/api/v1/auth/code", json={"phone": phone}, environ_base=ip_of(phone))
        assert response.status_code == 202, response.json
        return response.json["debug_code"]

    def sign_in(self, phone: str, invite_code: str | None = None) -> dict[str, Any]:
        """Sign in (signing up when new) and return the token response, with ``headers`` added for the user."""
        code = self.request_code(phone)
        body = {"phone": phone, "code": code} | ({"invite_code": invite_code} if invite_code else {})
        response = self.client.post("/api/v1/auth/token", json=body, environ_base=ip_of(phone))
        assert response.status_code in (200, 201), response.json
        tokens = response.json
        tokens["headers"] = bearer(tokens["access_token"])
        return tokens

    def profile(self, tokens: dict[str, Any]) -> dict[str, Any]:
        response = self.client.get("/api/v1/profile", headers=tokens["headers"])
        assert response.status_code == 200, response.json
        return response.json


def ip_of(phone: str) -> dict[str, str]:
    """Each test user signs in from an address of their own, in a network of their own (a /24), as real users
    do, so per-IP caps and the fraud rules' shared networks stay out of the way of tests that are not about
    them."""
    digits = int("".join(filter(str.isdigit, phone))[-6:])
    return {"REMOTE_ADDR": f"10.{digits // 256 % 256}.{digits % 256}.{digits // 65536 % 254 + 1}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def user_factory(app: Flask) -> type[model_factories.UserFactory]:
    return model_factories.UserFactory


@dataclass
class QueryLog:
    """SQL statements the app sent, savepoint bookkeeping left out.

    ``outside_transaction`` are those of them sent on a connection in autocommit mode (the hot read pool's).
    """

    statements: list[str] = field(default_factory=list)
    outside_transaction: list[str] = field(default_factory=list)

    def record(self, statement: str, autocommit: bool = False) -> None:
        if "SAVEPOINT" not in statement.upper():
            self.statements.append(statement)
            if autocommit:
                self.outside_transaction.append(statement)

    def during(self, action: Callable[[], Any]) -> list[str]:
        """The statements sent while ``action`` ran."""
        start = len(self.statements)
        action()
        return self.statements[start:]


@pytest.fixture
def queries(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[QueryLog]:
    """Every statement sent, counted at the driver on PostgreSQL, where ``infra/sql.py`` runs its reads on
    psycopg connections of its own pool; by SQLAlchemy's event on SQLite."""
    log = QueryLog()
    if db.engine.dialect.name != "postgresql":
        listener = lambda conn, cursor, statement, *args: log.record(statement)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        yield log
        event.remove(db.engine, "before_cursor_execute", listener)
        return
    import psycopg

    for method in ("execute", "executemany"):
        sent = getattr(psycopg.Cursor, method)

        def recording(cursor: psycopg.Cursor[Any], query: Any, *args: Any, _sent: Any = sent, **kwargs: Any) -> Any:
            log.record(str(query), cursor.connection.autocommit)
            return _sent(cursor, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, method, recording)
    yield log


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread, all released at the same moment; their results, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture
def receiver(app: Flask) -> Iterator[Any]:
    """A webhook receiver on loopback that verifies with ``WEBHOOK_TEST_SECRET``; the app sends it every event."""
    from config import WEBHOOK_EVENT_TYPES
    from tests.webhook_receiver import TEST_SECRET, serve_receiver

    receiver, server = serve_receiver(TEST_SECRET)
    app.config.update(
        WEBHOOK_URLS=[(receiver.url, WEBHOOK_EVENT_TYPES)], WEBHOOK_SECRET=[TEST_SECRET], WEBHOOK_TIMEOUT_SECONDS=1
    )
    yield receiver
    server.shutdown()


@pytest.fixture
def worker_loop(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[float]]:
    """``worker_loop(runs, between=None)``: a command's ``--every`` loop stopped after ``runs`` runs, as stopping
    the worker does (``between()`` runs in each pause); the pauses it asked for."""

    def stop_after(runs: int, between: Callable[[], None] | None = None) -> list[float]:
        pauses: list[float] = []

        def sleep(seconds: float) -> None:
            pauses.append(seconds)
            if between is not None:
                between()
            if len(pauses) == runs:
                raise KeyboardInterrupt

        monkeypatch.setattr("referral.cli.users.time.sleep", sleep)
        return pauses

    return stop_after

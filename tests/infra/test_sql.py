"""The hot read path (``infra/sql.py``): the same rows either way, a restart invisible, an outage a 503."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from referral.extensions import db
from referral.infra import accounts, referral_lists, sql
from referral.infra.models import User

PROFILE = "/api/v1/profile"


def _reads_to_compare(owner: dict, session_id: str, now: datetime) -> list[tuple[sql.Statement, dict]]:
    every = [
        (accounts.ACCOUNT_OF_SESSION, {"session_id": session_id, "now": now}),
        (referral_lists.FIRST_PAGE, {"owner_id": owner["user"]["id"], "limit": 10}),
        (referral_lists.NEWEST_REFERRAL_PHONES, {"user_id": owner["user"]["id"], "limit": 10}),
    ]
    if db.engine.dialect.name == "postgresql":
        every.append(
            (accounts.ACCOUNT_OF_SESSION_WITH_REFERRALS, {"session_id": session_id, "now": now, "referrals": 2})
        )
    return every


def _signed_in_with_referrals(api, user_factory, clock) -> tuple[dict, str]:
    owner = api.sign_in("+79990000000")
    invited = api.sign_in("+79990000001", invite_code=owner["user"]["invite_code"])
    for _ in range(3):
        clock.advance(seconds=1)
        user_factory.invited_by(db.session.get(User, owner["user"]["id"]))
    db.session.commit()
    session_id = db.session.scalar(text("SELECT id FROM sessions WHERE user_id = :id"), {"id": invited["user"]["id"]})
    return owner, session_id


def test_reads_in_the_session_answer_aware_utc_timestamps(app, api, user_factory, clock):
    owner, session_id = _signed_in_with_referrals(api, user_factory, clock)
    for read, params in _reads_to_compare(owner, session_id, clock.now):
        rows = sql.read(read, params)
        assert rows
        stamps = [value for row in rows for value in row if isinstance(value, datetime)]
        assert all(value.tzinfo is not None and value.utcoffset() == timedelta(0) for value in stamps)


@pytest.mark.committing
def test_the_pool_answers_exactly_what_the_session_answers(app, api, user_factory, clock, postgres_only):
    owner, session_id = _signed_in_with_referrals(api, user_factory, clock)
    pool = app.extensions[sql.READ_POOL]
    for read, params in _reads_to_compare(owner, session_id, clock.now):
        in_session = sql.read(read, params)
        assert pool.rows(read, params) == in_session
        assert in_session


def test_a_naive_timestamp_is_refused_as_the_model_refuses_it(app):
    naive = datetime.now(UTC).replace(tzinfo=None)
    with pytest.raises(Exception, match="naive datetimes are not stored"):
        sql.read(accounts.ACCOUNT_OF_SESSION, {"session_id": "x", "now": naive})


def _kill_read_connections() -> int:
    killed = db.session.scalar(
        text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"),
        {"name": sql.APPLICATION_NAME},
    )
    db.session.commit()
    db.session.close()  # the test client shares the test's session; a real request starts without one
    return int(killed or 0)


@pytest.mark.committing
def test_a_read_that_meets_a_connection_that_died_is_read_again_on_a_fresh_one(
    client, api, postgres_only, autocommit_reads_on
):
    user = api.sign_in("+79990000000")
    db.session.close()
    assert client.get(PROFILE, headers=user["headers"]).status_code == 200  # the pool holds a connection now
    assert _kill_read_connections() >= 1

    response = client.get(PROFILE, headers=user["headers"])
    assert response.status_code == 200, response.json
    assert response.json["id"] == user["user"]["id"]


@pytest.mark.committing
def test_reads_of_a_database_that_is_down_answer_503_within_the_pool_timeout(
    app, client, api, postgres_only, autocommit_reads_on, monkeypatch
):
    user = api.sign_in("+79990000000")
    db.session.close()
    app.config["DB_POOL_TIMEOUT_SECONDS"] = 1
    unreachable = sql.ReadPool("postgresql+psycopg://nobody@127.0.0.1:1/none", app.config)
    monkeypatch.setitem(app.extensions, sql.READ_POOL, unreachable)
    try:
        started = time.monotonic()
        response = client.get(PROFILE, headers=user["headers"])
        elapsed = time.monotonic() - started
    finally:
        unreachable.close()
    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert elapsed < 3


@pytest.mark.committing
def test_a_read_slower_than_the_statement_timeout_is_database_unavailable(app, postgres_only):
    app.config["DB_STATEMENT_TIMEOUT_MS"] = 100
    pool = sql.ReadPool(app.config["SQLALCHEMY_DATABASE_URI"], app.config)
    try:
        started = time.monotonic()
        with pytest.raises(sql.DatabaseUnavailable):
            pool.rows(sql.Statement("SELECT pg_sleep(5)"), {})
        assert time.monotonic() - started < 2
    finally:
        pool.close()


@pytest.mark.committing
def test_timestamps_come_back_in_utc_whatever_the_server_s_time_zone(app, postgres_only, monkeypatch):
    real = sql.connection_options
    monkeypatch.setattr(sql, "connection_options", lambda config: real(config) | {"options": "-c TimeZone=Asia/Tokyo"})
    pool = sql.ReadPool(app.config["SQLALCHEMY_DATABASE_URI"], app.config)
    try:
        ((stamp,),) = pool.rows(sql.Statement("SELECT CAST(:at AS timestamptz)"), {"at": "2026-01-02T03:04:05+00:00"})
    finally:
        pool.close()
    assert stamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert stamp.utcoffset() == timedelta(0)


@pytest.fixture
def second_database(app, postgres_only):
    name = "referral_replica_test"
    url = db.engine.url.set(drivername="postgresql")
    import psycopg

    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    yield name, db.engine.url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_with_a_replica_url_the_hot_reads_go_to_the_replica(app, second_database):
    from flask import Flask

    name, url = second_database
    other = Flask("replica-test")
    other.config.update(app.config, DATABASE_REPLICA_URL=url)
    sql.init_read_pool(other)
    pool = other.extensions[sql.READ_POOL]
    try:
        assert pool.rows(sql.Statement("SELECT current_database()"), {}) == [(name,)]
    finally:
        pool.close()


@pytest.mark.committing
def test_reads_answer_within_a_second_of_the_database_coming_back_after_an_outage(
    app, client, api, postgres_only, autocommit_reads_on, monkeypatch
):
    """An outage of a few seconds, read through all along, as a restart would be: the pool's attempts to
    reconnect must not leave reads failing once the database is back."""
    from tests.tcp_proxy import CuttableProxy

    user = api.sign_in("+79990000000")
    db.session.close()
    url = db.engine.url
    proxy = CuttableProxy((url.host or "127.0.0.1", url.port or 5432))
    pool = sql.ReadPool(url.set(port=proxy.port).render_as_string(hide_password=False), app.config)
    monkeypatch.setitem(app.extensions, sql.READ_POOL, pool)
    try:
        assert client.get(PROFILE, headers=user["headers"]).status_code == 200
        proxy.cut()
        down_until = time.monotonic() + 8
        while time.monotonic() < down_until:
            assert client.get(PROFILE, headers=user["headers"]).status_code == 503
        proxy.restore()
        back_at = time.monotonic()
        late_failures = []
        while time.monotonic() < back_at + 4:
            response = client.get(PROFILE, headers=user["headers"])
            if response.status_code != 200 and time.monotonic() - back_at > 1:
                late_failures.append(round(time.monotonic() - back_at, 2))
            time.sleep(0.05)
    finally:
        pool.close()
        proxy.cut()
    assert late_failures == []

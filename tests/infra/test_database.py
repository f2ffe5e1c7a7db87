"""Database failures on the ORM's path: a 503 with Retry-After, within bounded time, never a 500."""

import time

import psycopg
import pytest
from flask import Flask
from sqlalchemy import text

from referral import create_app
from referral.extensions import db

CODE = "/api/v1/auth/code"
PROFILE = "/api/v1/profile"


@pytest.fixture
def unreachable(_app: Flask) -> Flask:
    """The app configured for a database nobody listens for (the connection fails on checkout)."""
    app = create_app(
        {
            "APP_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SECRET_KEY": "x" * 32,
            "JWT_SECRET_KEY": "y" * 32,
        }
    )
    return app


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", CODE, {"phone": "+79991234567"}), ("GET", "/readyz", None), ("POST", "/api/v1/auth/token", None)],
)
def test_an_unreachable_database_is_503_with_retry_after_at_once(unreachable, method, path, body):
    body = body or {"phone": "+79991234567", "code": "1234"}
    started = time.monotonic()
    response = unreachable.test_client().open(path, method=method, json=body if method == "POST" else None)
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"


def _kill_every_other_backend(app: Flask) -> int:
    """Ends every server process of the test database but this one's, as a PostgreSQL restart would."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as killer:
        killed = killer.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchone()
    return int(killed[0]) if killed else 0


@pytest.mark.committing
def test_after_a_restart_an_authenticated_write_reads_its_account_again_and_succeeds(app, client, api, postgres_only):
    user = api.sign_in("+79990000000")
    db.session.close()
    db.engine.dispose()
    assert client.patch(PROFILE, headers=user["headers"], json={"first_name": "Anna"}).status_code == 200
    db.session.close()
    assert _kill_every_other_backend(app) >= 1

    response = client.patch(PROFILE, headers=user["headers"], json={"first_name": "Anna"})
    assert response.status_code == 200, response.json


@pytest.mark.committing
def test_a_write_whose_first_statement_meets_a_dead_connection_is_run_again_and_succeeds(app, client, postgres_only):
    db.session.close()
    db.engine.dispose()
    assert client.post(CODE, json={"phone": "+79990000001"}).status_code == 202
    db.session.close()
    assert _kill_every_other_backend(app) >= 1

    assert client.post(CODE, json={"phone": "+79990000002"}).status_code == 202  # nothing was written before it


@pytest.mark.committing
def test_a_write_that_meets_a_dead_connection_half_way_is_one_503_and_no_half_write(
    app, client, postgres_only, monkeypatch
):
    from referral.domain import defences

    db.session.close()
    db.engine.dispose()
    assert client.post(CODE, json={"phone": "+79990000001"}).status_code == 202
    db.session.close()
    real = defences.check_send_caps

    def dies_before_the_caps(phone, sent, now):  # the code and its send are written in this transaction by now
        _kill_every_other_backend(app)
        return real(phone, sent, now)

    monkeypatch.setattr(defences, "check_send_caps", dies_before_the_caps)
    failed = client.post(CODE, json={"phone": "+79990000002"})
    assert failed.status_code == 503
    assert failed.json["code"] == "service_unavailable"
    monkeypatch.undo()
    db.session.close()
    assert client.post(CODE, json={"phone": "+79990000002"}).status_code == 202  # at once: not "too soon"
    sends = db.session.scalar(text("SELECT count(*) FROM sms_sends WHERE phone = '+79990000002'"))
    assert sends == 1


def test_readyz_asks_again_when_its_connection_had_died(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    calls = []
    real = db.session.execute

    def first_one_died(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError(
                "SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(db.session, "execute", first_one_died)
    assert client.get("/readyz").status_code == 200
    assert len(calls) == 2

"""The read path every authenticated request takes (``database.read_rows``)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from referral import accounts, invites
from referral.database import read_rows
from referral.extensions import db
from referral.models import User


def test_read_rows_answers_what_sqlalchemy_answers(app, api, user_factory, clock):
    owner = api.sign_in("+79990000000")
    invited = api.sign_in("+79990000001", invite_code=owner["user"]["invite_code"])
    for _ in range(3):
        clock.advance(seconds=1)
        user_factory.invited_by(db.session.get(User, owner["user"]["id"]))
    session_id = db.session.scalar(text("SELECT id FROM sessions WHERE user_id = :id"), {"id": invited["user"]["id"]})
    reads = [
        (accounts._LIVE_ACCOUNT, {"session_id": session_id, "now": clock.now}),
        (invites._FIRST_PAGE, {"owner_id": owner["user"]["id"], "limit": 10}),
    ]
    if db.engine.dialect.name == "postgresql":
        reads.append(
            (accounts._LIVE_ACCOUNT_WITH_REFERRALS, {"session_id": session_id, "now": clock.now, "referrals": 2})
        )
    for statement, params in reads:
        with app.test_request_context("/api/v1/profile"):
            rows = read_rows(statement, params)
            assert rows == [tuple(row) for row in db.session.execute(statement, params)]
            assert rows
            datetimes = [value for row in rows for value in row if hasattr(value, "tzinfo")]
            assert datetimes and all(value.utcoffset() == timedelta(0) for value in datetimes)
            assert all(value.tzinfo is not None for value in datetimes)


def test_read_rows_processes_parameters_as_the_model_does(app):
    naive = datetime.now(UTC).replace(tzinfo=None)
    with app.test_request_context("/api/v1/profile"), pytest.raises(Exception, match="naive datetimes are not stored"):
        read_rows(accounts._LIVE_ACCOUNT, {"session_id": "x", "now": naive})


@pytest.mark.committing
def test_a_read_connection_that_died_fails_one_request_with_503_and_leaves_the_pool(
    client, api, postgres_only, autocommit_reads_on
):
    user = api.sign_in("+79990000000")
    reads = db.engines["reads"]
    reads.dispose()  # one connection in the pool from here on: the one whose server process ends below
    with reads.connect() as connection:
        backend = connection.scalar(text("SELECT pg_backend_pid()"))
    db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    db.session.commit()
    db.session.close()  # the test client shares the test's session; a real request starts without one

    failed = client.get("/api/v1/profile", headers=user["headers"])
    assert failed.status_code == 503
    assert failed.json["code"] == "service_unavailable"
    db.session.close()
    assert client.get("/api/v1/profile", headers=user["headers"]).status_code == 200

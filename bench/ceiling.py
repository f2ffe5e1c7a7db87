"""The ceilings, served with the same gunicorn config as the app, each endpoint measured beside them:

- ``/ceiling``: a bare Flask app answering a constant JSON body. No Flask endpoint beats it on this machine.
- ``/one-read``: the same, reading one ``users`` row by primary key on a per-thread psycopg connection
  (autocommit): the least any endpoint that must ask PostgreSQL something can do. The read endpoints are
  reported as a fraction of it.
- ``/one-page``: a referral page's shape with none of the app: the newest 50 referrals of one inviter (one
  statement on the index the app's page reads) written out as JSON. Not a target; it says how much of the page's
  distance to one read is its 50 rows.
- ``/one-write``: inserting one row and committing (one statement, autocommit): the least any endpoint that
  writes can do. The write endpoints are reported as a fraction of it.
- ``/one-write-in-transaction``: the same insert between a BEGIN and a COMMIT, each its own round trip, as a
  write through the ORM session is sent (psycopg sends the BEGIN before the first statement). Not a target; it
  says how much of a write's distance to one write is its transaction's two round trips.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import psycopg
from flask import Flask

app = Flask(__name__)
_local = threading.local()
READ_ID = int(os.environ.get("BENCH_READ_ID", "1"))
PAGE_OWNER = int(os.environ.get("BENCH_PAGE_OWNER", "1"))
PAGE_COLUMNS = ("id", "phone", "first_name", "last_name", "invited_at", "invite_channel", "referral_state")


def connection() -> psycopg.Connection[Any]:
    if getattr(_local, "connection", None) is None:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        _local.connection = psycopg.connect(url, autocommit=True)
    return _local.connection  # type: ignore[no-any-return]


@app.get("/ceiling")
def ceiling() -> dict[str, str]:
    return {"status": "ok", "detail": "a constant body, about as long as a small profile"}


@app.get("/one-read")
def one_read() -> dict[str, Any]:
    row = (
        connection()
        .execute(
            "SELECT id, phone, invite_code, first_name, last_name, invited_at, created_at FROM users WHERE id = %s",
            (READ_ID,),
        )
        .fetchone()
    )
    assert row is not None
    names = ("id", "phone", "invite_code", "first_name", "last_name", "invited_at", "created_at")
    return dict(zip(names, row, strict=True))


@app.get("/one-page")
def one_page() -> dict[str, Any]:
    rows = (
        connection()
        .execute(
            "SELECT id, phone, first_name, last_name, invited_at, invite_channel, referral_state FROM users "
            "WHERE invited_by_id = %s ORDER BY invited_at DESC, id DESC LIMIT 51",
            (PAGE_OWNER,),
        )
        .fetchall()
    )
    items = [dict(zip(PAGE_COLUMNS, row, strict=True)) for row in rows[:50]]
    for item in items:
        item["invited_at"] = item["invited_at"].isoformat()
    return {"items": items, "next_cursor": "a cursor" if len(rows) > 50 else None, "count": len(items)}


@app.post("/one-write")
def one_write() -> tuple[dict[str, Any], int]:
    (row_id,) = connection().execute(
        "INSERT INTO bench_writes (body) VALUES (%s) RETURNING id", ("a row about as long as a sign-up",)
    ).fetchone() or (None,)
    return {"id": row_id}, 201


@app.post("/one-write-in-transaction")
def one_write_in_transaction() -> tuple[dict[str, Any], int]:
    database = connection()
    with database.transaction():  # BEGIN, the INSERT, COMMIT: three round trips
        (row_id,) = database.execute(
            "INSERT INTO bench_writes (body) VALUES (%s) RETURNING id", ("a row about as long as a sign-up",)
        ).fetchone() or (None,)
    return {"id": row_id}, 201

"""The ceilings, served with the same gunicorn config as the app, each endpoint measured beside them:

- ``/ceiling``: a bare Flask app answering a constant JSON body. No Flask endpoint beats it on this machine.
- ``/one-read``: the same, reading one ``users`` row by primary key on a per-thread psycopg connection
  (autocommit): the least any endpoint that must ask PostgreSQL something can do. The read endpoints are
  reported as a fraction of it.
- ``/one-write``: inserting one row and committing (one statement, autocommit): the least any endpoint that
  writes can do. The write endpoints are reported as a fraction of it.
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


@app.post("/one-write")
def one_write() -> tuple[dict[str, Any], int]:
    (row_id,) = connection().execute(
        "INSERT INTO bench_writes (body) VALUES (%s) RETURNING id", ("a row about as long as a sign-up",)
    ).fetchone() or (None,)
    return {"id": row_id}, 201

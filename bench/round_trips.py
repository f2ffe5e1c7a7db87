"""What a round trip to PostgreSQL costs on this machine, and what each way of sending a write's BEGIN costs.

    bench/round_trips.py      (a throwaway database, referral_trips, on the local PostgreSQL)
    BENCH_TRIPS_N=50000 bench/round_trips.py     more transactions a shape (20,000 by default)

One thread, one connection a shape, psycopg alone (no Flask, no SQLAlchemy). Each shape inserts one row as
bench/ceiling.py's one-write ceiling does:

- autocommit: the INSERT alone, one round trip (the one-write ceiling);
- a transaction: BEGIN, the INSERT, COMMIT, three round trips, as a write through the ORM session goes
  (psycopg sends the BEGIN on its own before the first statement);
- BEGIN pipelined: the BEGIN and the INSERT written at once in psycopg's pipeline mode, then the COMMIT: two.

The shapes take turns one transaction at a time, so this machine's drift in speed (a fifth within a minute)
falls on all three alike. Wall time is what one client waits; CPU is this process's (the driver's work), not
PostgreSQL's.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

import psycopg
from in_process import HOST, fresh_database

DB = os.environ.get("BENCH_TRIPS_DB", "referral_trips")
N = int(os.environ.get("BENCH_TRIPS_N", "20000"))
INSERT = "INSERT INTO bench_writes (body) VALUES (%s) RETURNING id"
BODY = ("a row about as long as a sign-up",)


def main() -> None:
    fresh_database(DB)
    url = f"postgresql://{os.environ.get('PGUSER', 'root')}@{HOST}/{DB}"
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE bench_writes (id bigserial PRIMARY KEY, body text NOT NULL)")
    autocommit = psycopg.connect(url, autocommit=True)
    in_transaction = psycopg.connect(url)
    pipelined = psycopg.connect(url)

    def alone() -> None:
        autocommit.execute(INSERT, BODY).fetchall()

    def transaction() -> None:
        in_transaction.execute(INSERT, BODY).fetchall()
        in_transaction.commit()

    def begin_pipelined() -> None:
        with pipelined.pipeline():
            cursor = pipelined.execute(INSERT, BODY)
        cursor.fetchall()
        pipelined.commit()

    shapes: dict[str, Callable[[], None]] = {
        "autocommit (1 round trip)": alone,
        "a transaction (3 round trips)": transaction,
        "BEGIN pipelined (2 round trips)": begin_pipelined,
    }
    for _ in range(500):  # warm: the connections, the plan, psycopg's prepared statement
        for shape in shapes.values():
            shape()
    wall = dict.fromkeys(shapes, 0.0)
    cpu = dict.fromkeys(shapes, 0.0)
    for _ in range(N):
        for name, shape in shapes.items():
            started, started_cpu = time.perf_counter(), time.thread_time()
            shape()
            wall[name] += time.perf_counter() - started
            cpu[name] += time.thread_time() - started_cpu
    print(f"{'shape':34} {'wall us':>8} {'client CPU us':>14}")
    for name in shapes:
        print(f"{name:34} {wall[name] / N * 1e6:>8.0f} {cpu[name] / N * 1e6:>14.0f}")
    for connection in (autocommit, in_transaction, pipelined):
        connection.close()
    subprocess.run(["psql", "-h", HOST, "-d", "postgres", "-qc", f"DROP DATABASE {DB}"], check=True)


if __name__ == "__main__":
    main()

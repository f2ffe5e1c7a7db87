"""A month of sign-ins in a few minutes: what grows with traffic stays at a steady size under the purge, and
the purge is cheap for the API beside it.

    bench/month.py          (a throwaway database, referral_month; needs PostgreSQL, and wrk for the last part)

It seeds users, then plays DAYS days of traffic, SIGNINS a day, each day's rows written straight into the
tables with the day's timestamps (what each sign-in leaves: its code, its SMS record, its session, a fifth of
them signed out again, its footprint, a phone lockout for one in fifty, and for one in ten a referral's webhook
event delivered once), and after each day runs `flask maintenance purge`'s work with the clock at the day's
end, then VACUUM, which stands in for autovacuum (at a simulated day every few seconds, autovacuum's one-minute
naps cannot keep up by themselves). It prints each table's rows and bytes as the days go, and checks that the
last week's sizes are flat. The footprints' retention is set to the sessions' 30 days, so that every table
reaches its steady size within the simulated month (FRAUD_SIGNALS_DAYS is 90 by default: three times the rows).

Then the purge under load: BACKLOG more days with no purge, the app served by gunicorn as bench/run serves it,
and wrk at a light load (2 connections each, where p99 is a request's own latency, not a queue) reading
profiles and signing up side by side, first alone and then while `flask maintenance purge` deletes the
backlog. Output: a markdown report on stdout (bench/RESULTS.md keeps one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from in_process import PROJECT, use_database

DB = os.environ.get("BENCH_MONTH_DB", "referral_month")
USERS = int(os.environ.get("BENCH_MONTH_USERS", "200000"))
SIGNINS = int(os.environ.get("BENCH_MONTH_SIGNINS", "20000"))  # a day
DAYS = int(os.environ.get("BENCH_MONTH_DAYS", "45"))
BACKLOG = int(os.environ.get("BENCH_MONTH_BACKLOG", "7"))
LOAD_SECONDS = int(os.environ.get("BENCH_MONTH_LOAD_SECONDS", "20"))
PORT = 8103
use_database(DB)
os.environ["FRAUD_SIGNALS_DAYS"] = "30"

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from referral import clock, create_app  # noqa: E402
from referral.domain import maintenance  # noqa: E402
from referral.extensions import db  # noqa: E402
from referral.infra.seed import SeedPlan, seed_users  # noqa: E402

TABLES = (
    "login_codes",
    "sms_sends",
    "sessions",
    "footprints",
    "phone_lockouts",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
)
# One day of sign-ins, spread over the day: the n-th sign-in is user 1 + (n * 7919 + salt) mod users, so that
# no user signs in twice in a day (7919 is prime, and the seeded users are not a multiple of it).
DAY = """
    CREATE TEMP TABLE day ON COMMIT DROP AS
    SELECT g, u.id AS user_id, u.phone, :start + g * (interval '1 day' / :n) AS at
    FROM generate_series(0, :n - 1) AS g
    JOIN users AS u ON u.id = 1 + ((g::bigint * 7919 + :salt) % :users);

    INSERT INTO login_codes (purpose, phone, code_hash, attempts, created_at, expires_at, spent_at)
    SELECT 'login', phone, md5(phone || at), 0, at, at + interval '5 minutes', at + interval '1 minute' FROM day
    ON CONFLICT (purpose, phone) DO UPDATE SET code_hash = excluded.code_hash, attempts = 0,
        created_at = excluded.created_at, expires_at = excluded.expires_at, spent_at = excluded.spent_at;

    INSERT INTO sms_sends (phone, purpose, sent_at, status, attempts, delivered_at)
    SELECT phone, 'login', at, 'sent', 1, at + interval '2 seconds' FROM day;

    INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at, revoked_at, user_agent, last_used_at)
    SELECT md5(:salt || '-' || g), user_id, gen_random_uuid()::text, at, at + interval '30 days',
        CASE WHEN g % 5 = 0 THEN at + interval '2 hours' END,
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148', at
    FROM day;

    INSERT INTO footprints (user_id, seen_at, kind, network, agent_hash, device_id)
    SELECT user_id, at, 'sign_in', '203.0.' || (g % 250) || '.0/24', left(md5(g::text), 16), md5(phone)
    FROM day;

    INSERT INTO phone_lockouts (phone, failures, locked_until)
    SELECT phone, 0, NULL FROM day WHERE g % 50 = 0
    ON CONFLICT (phone) DO UPDATE SET failures = 0;

    INSERT INTO webhook_events (id, type, payload, created_at)
    SELECT 'evt_' || md5(:salt || '-' || g), 'referral.activated',
        json_build_object('type', 'referral.activated', 'timestamp', at,
            'data', json_build_object('inviter', json_build_object('id', user_id, 'invite_code', 'ABCD2345'),
                'invitee', json_build_object('id', user_id + 1), 'at', at))::text,
        at
    FROM day WHERE g % 10 = 0;

    INSERT INTO webhook_deliveries (event_id, url, status, attempts, next_attempt_at, last_status_code,
        delivered_at, created_at)
    SELECT 'evt_' || md5(:salt || '-' || g), 'https://programme.example.com/hooks/referral', 'delivered', 1,
        at + interval '1 second', 200, at + interval '1 second', at
    FROM day WHERE g % 10 = 0;

    INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms)
    SELECT d.id, d.next_attempt_at, 200, 40 FROM webhook_deliveries AS d WHERE d.created_at >= :start;
"""


def main() -> None:
    fresh_database()
    app = create_app()
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(Path(PROJECT) / "migrations"))
        seed_users(SeedPlan(users=USERS, seed=1))
        real_now = clock.utcnow()
        start = (real_now - timedelta(days=DAYS + BACKLOG)).replace(hour=0, minute=0, second=0, microsecond=0)
        print(f"# A month of sign-ins: {SIGNINS:,} a day for {DAYS} days, {USERS:,} users\n")
        print("| day | " + " | ".join(TABLES) + " | purge s | rows purged |")
        print("| ---: | " + " | ".join("---:" for _ in TABLES) + " | ---: | ---: |")
        sizes: list[dict[str, tuple[int, int]]] = []
        for day in range(DAYS):
            play_day(start + timedelta(days=day), day)
            purged, seconds = purge_at(start + timedelta(days=day + 1))
            vacuum()
            sizes.append(table_sizes())
            if day % 5 == 4 or day == DAYS - 1:
                cells = " | ".join(f"{sizes[-1][t][0]:,} · {sizes[-1][t][1] / 2**20:.1f} MiB" for t in TABLES)
                print(f"| {day + 1} | {cells} | {seconds:.2f} | {sum(purged.values()):,} |")
        flat = steady(sizes)
        print(
            "\nEach cell: rows · bytes with indexes, after the day's purge and VACUUM. The last week against the "
            "week before it, bytes: " + ", ".join(f"{table} {change:+.0%}" for table, change in flat.items())
        )
        print(
            "\nThe steady size per 1,000 sign-ins a day: "
            + ", ".join(f"{t} {sizes[-1][t][1] / (SIGNINS / 1000) / 2**20:,.2f} MiB" for t in TABLES)
            + f"; in all {sum(size for _, size in sizes[-1].values()) / 2**20:,.0f} MiB."
        )
        for day in range(DAYS, DAYS + BACKLOG):
            play_day(start + timedelta(days=day), day)
        vacuum()
        backlog_rows = expired_rows(real_now)
        token, phones = prepare_load()
    under_load(token, phones, backlog_rows)


def fresh_database() -> None:
    with psycopg.connect(dbname="postgres", host=os.environ.get("PGHOST", "127.0.0.1"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")


def play_day(start: datetime, day: int) -> None:
    params = {"start": start, "n": SIGNINS, "salt": day * 104_729, "users": USERS}
    for statement in DAY.split(";\n"):
        if statement.strip():
            db.session.execute(text(statement), params)
    db.session.commit()


def purge_at(at: datetime) -> tuple[dict[str, int], float]:
    """The purge's own work (domain/maintenance.py), with the clock at ``at``."""
    real = clock.utcnow
    clock.utcnow = lambda: at  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        purged = maintenance.purge(pause=0)  # the sizes, not the load: no pause between batches
        return purged, time.perf_counter() - started
    finally:
        clock.utcnow = real  # type: ignore[assignment]


def vacuum() -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in TABLES:
            connection.execute(text(f"VACUUM {table}"))


def table_sizes() -> dict[str, tuple[int, int]]:
    return {
        table: tuple(db.session.execute(text(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")).one())
        for table in TABLES
    }


def steady(sizes: list[dict[str, tuple[int, int]]]) -> dict[str, float]:
    last, before = sizes[-1], sizes[-8]
    return {t: (last[t][1] - before[t][1]) / before[t][1] if before[t][1] else 0.0 for t in TABLES}


def expired_rows(now: datetime) -> int:
    return int(
        db.session.scalar(
            text(
                "SELECT (SELECT count(*) FROM login_codes WHERE expires_at <= :now)"
                " + (SELECT count(*) FROM sessions WHERE expires_at <= :now OR revoked_at IS NOT NULL)"
                " + (SELECT count(*) FROM sms_sends WHERE sent_at <= :week_ago)"
                " + (SELECT count(*) FROM footprints WHERE seen_at <= :month_ago)"
                " + (SELECT count(*) FROM webhook_deliveries WHERE next_attempt_at <= :month_ago)"
            ),
            {"now": now, "week_ago": now - timedelta(days=7), "month_ago": now - timedelta(days=30)},
        )
    )


def prepare_load() -> tuple[Path, Path]:
    """A reader's token, and new phones with live codes for the sign-ups (bench/prepare.py's helpers)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from prepare import _bulk_codes, _bulk_sessions

    out = Path(os.environ.get("BENCH_MONTH_OUT", "/tmp/referral-month"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "reader.token").write_text(_bulk_sessions(range(1, 2))[0] + "\n")
    phones = [f"+7998{n:07d}" for n in range(40_000)]
    _bulk_codes(phones)
    (out / "phones.txt").write_text("\n".join(phones) + "\n")
    return out / "reader.token", out / "phones.txt"


def under_load(token: Path, phones: Path, backlog_rows: int) -> None:
    env = os.environ | {"PORT": str(PORT), "HOST": "127.0.0.1", "GUNICORN_ACCESS_LOG": "/dev/null"}
    env |= {"LOG_FORMAT": "json", "LOG_LEVEL": "WARNING", "FLASK_APP": "wsgi"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up()
        base = f"http://127.0.0.1:{PORT}/api/v1"
        lua = str(Path(PROJECT) / "bench" / "bench.lua")
        rows = []
        for n, (label, with_purge) in enumerate((("alone", False), ("while the purge runs", True))):
            loads = [
                wrk(lua, f"{base}/profile", ["get", str(token)]),
                wrk(lua, f"{base}/auth/token", ["token", str(phones), "1234", "10", str(n * 20_000), "10000"]),
            ]
            started = time.perf_counter()
            if with_purge:
                purge = subprocess.run(
                    [sys.executable, "-m", "flask", "maintenance", "purge"],
                    cwd=PROJECT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                purge_seconds = time.perf_counter() - started
                purge_output = purge.stdout
            reads, writes = (result(load) for load in loads)
            rows.append((label, reads, writes))
        print(
            f"\n# The purge under load\n\n{BACKLOG} days left unpurged: {backlog_rows:,} rows past their time. "
            f"`flask maintenance purge` deleted them in {purge_seconds:.1f} s (from its start to its exit, while "
            "the load ran):\n\n```\n" + purge_output.strip() + "\n```\n\n"
            "| load (2 connections each, side by side) | GET /profile req/s | p99 ms | POST /auth/token "
            "(sign-up) req/s | p99 ms | errors |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        )
        for label, reads, writes in rows:
            print(
                f"| {label} | {reads['rps']:,.0f} | {reads['p99_ms']:.1f} | {writes['rps']:,.0f} | "
                f"{writes['p99_ms']:.1f} | {sum(r['errors'] + r['non_2xx'] for r in (reads, writes))} |"
            )
    finally:
        server.terminate()
        server.wait()


def wait_until_up() -> None:
    for _ in range(60):
        if subprocess.run(["curl", "-sf", f"http://127.0.0.1:{PORT}/healthz"], capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    raise SystemExit("the app did not start")


def wrk(lua: str, url: str, args: list[str]) -> subprocess.Popen[str]:
    """wrk at a light load (2 connections: the reads and the sign-ups run side by side, 4 in all)."""
    command = ["wrk", "-t1", "-c2", f"-d{LOAD_SECONDS}s", "--latency", "-s", lua, url, "--", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def result(load: subprocess.Popen[str]) -> dict:
    output = load.communicate()[0]
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


if __name__ == "__main__":
    main()

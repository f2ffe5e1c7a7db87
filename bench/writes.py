"""The write paths under the microscope: round trips, statements and in-process CPU per request.

    bench/writes.py [--profile]      (a throwaway database, referral_writes, on the local PostgreSQL)
    BENCH_WRITES_N=1500 bench/writes.py     more requests a path (400 by default)
    BENCH_TRUST_INFLUENCER=0 bench/writes.py     the campaign's inviter untrusted (held past 60 an hour)

Each write endpoint runs N times through the app's test client on one thread (no gunicorn, no wrk): the numbers
are what one request costs this process, the round trips it makes to PostgreSQL (statements, plus the
BEGIN and COMMIT that psycopg sends on their own), and the CPU PostgreSQL's processes spent on it. Tune a
write with this, then measure it with bench/run. ``--profile`` prints each path's cProfile top 25, timed by the
thread's CPU clock (a wall clock would count the waits on PostgreSQL); cProfile's per-call cost inflates code
of many small calls, so check a finding with a timing in process before acting on it.
"""

from __future__ import annotations

import cProfile
import glob
import os
import pstats
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
from in_process import PROJECT, fresh_database, use_database
from sqlalchemy import event, text

DB = os.environ.get("BENCH_WRITES_DB", "referral_writes")
use_database(DB)

from flask_migrate import upgrade  # noqa: E402

from referral import clock, create_app  # noqa: E402
from referral.domain import codes  # noqa: E402
from referral.extensions import db  # noqa: E402
from referral.infra.models import LoginCode  # noqa: E402

N = int(os.environ.get("BENCH_WRITES_N", "400"))
CODE = "1234"
INVITERS_ADDRESS = "192.0.2.1"  # TEST-NET-1: a network no measured request comes from


class RoundTrips:
    """Statements at the driver, and the transactions SQLAlchemy began and ended (BEGIN, COMMIT/ROLLBACK)."""

    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def install(self) -> None:
        for method in ("execute", "executemany"):
            sent = getattr(psycopg.Cursor, method)

            def recording(cursor: Any, query: Any, *args: Any, _sent: Any = sent, **kwargs: Any) -> Any:
                self.count += 1
                self.statements.append(" ".join(str(query).split())[:110])
                return _sent(cursor, query, *args, **kwargs)

            setattr(psycopg.Cursor, method, recording)
        for name, label in (("begin", "BEGIN"), ("commit", "COMMIT"), ("rollback", "ROLLBACK")):
            event.listen(db.engine, name, lambda *_, label=label: self._bookkeeping(label))

    def _bookkeeping(self, label: str) -> None:
        self.count += 1
        self.statements.append(label)


def main(profile: bool) -> None:
    fresh_database(DB)
    app = create_app()
    with app.app_context():
        upgrade(directory=os.path.join(PROJECT, "migrations"))  # the schema as the app runs on it, views included
        trips = RoundTrips()
        trips.install()
        client = app.test_client()
        # The inviters sign up from another network than the requests measured, as bench/run's seeded inviters
        # have no footprint: else every referral shares the inviter's network and is held (shared_network),
        # and the honest path is not what is measured.
        influencer = _sign_up(client, "+79990000000", INVITERS_ADDRESS)
        influencer_code = influencer["user"]["invite_code"]
        if os.environ.get("BENCH_TRUST_INFLUENCER", "1") == "1":
            _trust(influencer["user"]["id"])
        inviters = [_sign_up(client, f"+7999001{n:04d}", INVITERS_ADDRESS)["user"]["invite_code"] for n in range(N)]
        fresh = [_sign_up(client, f"+7999002{n:04d}")["access_token"] for n in range(2 * N)]
        _live_codes([f"+7999003{n:04d}" for n in range(N)] + [f"+7999004{n:04d}" for n in range(N)])
        phones = iter(f"+7999005{n:04d}" for n in range(N))
        tokens, many = iter(fresh[:N]), iter(zip(fresh[N:], inviters, strict=True))
        signups, signups_plain = iter(f"+7999003{n:04d}" for n in range(N)), iter(f"+7999004{n:04d}" for n in range(N))

        def invite_one() -> Any:
            headers = {"Authorization": f"Bearer {next(tokens)}"}
            return client.post("/api/v1/profile/invite", json={"invite_code": influencer_code}, headers=headers)

        def invite_many() -> Any:
            token, inviter = next(many)
            headers = {"Authorization": f"Bearer {token}"}
            return client.post("/api/v1/profile/invite", json={"invite_code": inviter}, headers=headers)

        paths: dict[str, Callable[[], Any]] = {
            "POST /auth/code": lambda: client.post("/api/v1/auth/code", json={"phone": next(phones)}),
            "POST /auth/token (sign-up, invite)": lambda: client.post(
                "/api/v1/auth/token",
                json={"phone": next(signups), "code": CODE, "invite_code": influencer_code},
            ),
            "POST /auth/token (sign-up)": lambda: client.post(
                "/api/v1/auth/token", json={"phone": next(signups_plain), "code": CODE}
            ),
            "POST /profile/invite (one inviter)": invite_one,
            "POST /profile/invite (many inviters)": invite_many,
        }
        print(f"{'path':40} {'round trips':>11} {'CPU us/request':>15} {'PostgreSQL us':>14}")
        for name, call in paths.items():
            profiler = cProfile.Profile(time.thread_time) if profile else None  # CPU, not the waits
            # The first request warms what a process keeps (the reward rules for 5 s, prepared statements); the
            # second one's round trips are the steady path's.
            response = call()
            assert response.status_code < 300, (name, response.status_code, response.get_json())
            first = trips.count
            call_statements = len(trips.statements)
            response = call()
            assert response.status_code < 300, (name, response.status_code, response.get_json())
            one = trips.statements[call_statements:]
            trips_one = trips.count - first
            started, pg_started = time.thread_time(), postgres_cpu()
            if profiler:
                profiler.enable()
            for _ in range(N - 2):
                response = call()
                assert response.status_code < 300, (name, response.status_code, response.get_json())
            if profiler:
                profiler.disable()
            cpu = (time.thread_time() - started) / (N - 2) * 1e6
            pg_cpu = (postgres_cpu() - pg_started) / (N - 2) * 1e6
            print(f"{name:40} {trips_one:>11} {cpu:>15.0f} {pg_cpu:>14.0f}")
            if os.environ.get("BENCH_WRITES_SQL"):
                print("\n".join(f"    {statement}" for statement in one))
            if profiler:
                pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_WRITES_SORT", "cumulative")).print_stats(25)
        held = db.session.execute(text("SELECT count(*) FROM referral_holds")).scalar_one()
        print(f"referrals held for review: {held} (the honest path is measured when none is)")


def postgres_cpu() -> float:
    """Seconds of CPU every PostgreSQL process on this machine has used (the request's backend, and the WAL
    writer and checkpointer its commits wake): what the round trips cost on the other side, which the app's
    thread time does not see. Read from /proc (Linux), in clock ticks; 0 elsewhere."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)
        except OSError:
            continue  # gone meanwhile
        if fields[0].endswith("(postgres"):
            utime, stime = fields[1].split()[11:13]
            total += int(utime) + int(stime)
    return total / ticks


def _sign_up(client: Any, phone: str, address: str = "127.0.0.1") -> Any:
    _live_codes([phone])
    response = client.post(
        "/api/v1/auth/token", json={"phone": phone, "code": CODE}, environ_base={"REMOTE_ADDR": address}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _trust(user_id: int) -> None:
    """The campaign is a planned one, as in bench/run (bench/prepare.py): its inviter is trusted, or its
    sign-ups past 60 an hour are held (BENCH_TRUST_INFLUENCER=0 measures that path). A release before the
    fraud rules (which this script also measures, for the programme's before and after) has nothing to trust."""
    try:
        from referral.domain import fraud
    except ImportError:
        return
    fraud.trust(user_id, "bench: a planned campaign")
    db.session.commit()


def _live_codes(phones: list[str]) -> None:
    now = clock.utcnow()
    db.session.add_all(
        LoginCode(
            purpose=codes.Purpose.LOGIN,
            phone=phone,
            code_hash=codes.hash_code(codes.Purpose.LOGIN, phone, CODE),
            created_at=now - timedelta(minutes=5),
            expires_at=now + timedelta(hours=1),
        )
        for phone in phones
    )
    db.session.commit()


if __name__ == "__main__":
    main("--profile" in sys.argv)

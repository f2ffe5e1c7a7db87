"""The read paths under the microscope: CPU per request in process, and where it goes.

    bench/reads.py [--profile]      (the bench database, referral_bench, as bench/run left it)

Each read endpoint runs N times through the app's test client on one thread (no gunicorn, no wrk), as a user
with at least 60 referrals: what one request costs this process, beside what the same process pays for
``GET /profile``. ``--profile`` prints each path's cProfile top 15 by own time. Tune a read with this, then
measure it with bench/run.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time

from in_process import use_database

DB = os.environ.get("BENCH_DB", "referral_bench")
use_database(DB)

from flask_jwt_extended import create_access_token  # noqa: E402
from sqlalchemy import text  # noqa: E402

from referral import create_app  # noqa: E402
from referral.extensions import db  # noqa: E402

N = int(os.environ.get("BENCH_READS_N", "500"))
PATHS = ("/api/v1/profile", "/api/v1/profile/referrals")


def main(profile: bool) -> None:
    app = create_app()
    with app.app_context():
        user_id = db.session.execute(
            text(
                "SELECT user_id FROM referral_counts GROUP BY user_id HAVING sum(referrals) >= 60 "
                "ORDER BY sum(referrals) LIMIT 1"
            )
        ).scalar()
        session_id = db.session.execute(
            text("SELECT id FROM sessions WHERE user_id = :user_id AND revoked_at IS NULL LIMIT 1"),
            {"user_id": user_id},
        ).scalar()
        if user_id is None or session_id is None:
            raise SystemExit(f"no user with 60 referrals and a session in {DB}: run bench/run first")
        token = create_access_token(identity=str(user_id), additional_claims={"sid": session_id})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    print(f"{'path':32} {'CPU us/request':>15} {'wall us/request':>16} {'items':>6}")
    for path in PATHS:
        first = client.get(path, headers=headers)
        assert first.status_code == 200, (path, first.status_code, first.get_json())
        for _ in range(N // 2):  # warm: prepared statements, caches
            client.get(path, headers=headers)
        cpu, wall = time.thread_time(), time.perf_counter()
        for _ in range(N):
            client.get(path, headers=headers)
        cpu, wall = (time.thread_time() - cpu) / N * 1e6, (time.perf_counter() - wall) / N * 1e6
        items = first.get_json().get("items")
        print(f"{path:32} {cpu:>15.0f} {wall:>16.0f} {'-' if items is None else len(items):>6}")
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(N):
                client.get(path, headers=headers)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main("--profile" in sys.argv[1:])

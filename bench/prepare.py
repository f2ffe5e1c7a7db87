"""Seed the benchmark database and write what the load scripts need: tokens, a deep cursor, live login codes.

Run inside the app's environment: ``python bench/prepare.py OUT_DIR`` (bench/run does it).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from flask_jwt_extended import create_access_token
from sqlalchemy import func, select, text

from referral import clock, create_app
from referral.domain import codes, fraud, programme, staff
from referral.domain.referrals import encode_cursor
from referral.extensions import db
from referral.infra import staff_access
from referral.infra.models import User
from referral.infra.seed import SeedPlan, seed_users

USERS = 1_000_000
# The campaign's inviter and the chain of invites, each user inviting the next (bench/sweep sets them by size).
INFLUENCER_REFERRALS = int(os.environ.get("BENCH_INFLUENCER", "100000"))
CHAIN = int(os.environ.get("BENCH_CHAIN", "1000"))
FRESH_USERS = 60_000  # one activation each: POST /profile/invite (3 slices x 2 wrk threads x 10,000)
LIVE_CODES = 60_000  # one sign-up each: POST /auth/token (the same), for each of its two scenarios
DEEP = 50_000
CODE = "1234"


def main(out: Path, users: int) -> None:
    app = create_app()
    with app.app_context():
        started = time.perf_counter()
        seeded = seed_users(
            SeedPlan(users=users, influencer_referrals=min(INFLUENCER_REFERRALS, users // 2), chain=CHAIN, seed=1)
        )
        seed_seconds = time.perf_counter() - started
        influencer = db.session.get(User, seeded.first_id)
        # The campaign is a planned one: its inviter is trusted, as staff would (README, "Trusted inviters"), or
        # its sign-ups past 60 an hour are held. BENCH_TRUST_INFLUENCER=0 measures the held path instead.
        if os.environ.get("BENCH_TRUST_INFLUENCER", "1") == "1":
            fraud.trust(influencer.id, "bench: a planned campaign")
            db.session.commit()
        typical = db.session.scalars(
            select(User)
            .where(User.invited_by_id.is_not(None), User.referrals_count.between(1, 10), User.id > seeded.first_id + 1)
            .limit(1)
        ).one()
        fresh = seed_users(SeedPlan(users=FRESH_USERS, invited_share=0.0, seed=2))
        # Tokens that outlive the run (the app's own access tokens live 15 minutes).
        typical_token, influencer_token = _bulk_sessions(range(typical.id, typical.id + 1)) + _bulk_sessions(
            range(influencer.id, influencer.id + 1)
        )
        (out / "typical.token").write_text(typical_token + "\n")
        (out / "influencer.token").write_text(influencer_token + "\n")
        fresh_ids = range(fresh.first_id, fresh.first_id + fresh.users)
        (out / "fresh.tokens").write_text("\n".join(_bulk_sessions(fresh_ids)) + "\n")
        # Activations into many different trees: each fresh user enters the code of a different seeded user.
        many = seed_users(SeedPlan(users=FRESH_USERS, invited_share=0.0, seed=3))
        many_tokens = _bulk_sessions(range(many.first_id, many.first_id + many.users))
        inviter_codes = list(
            db.session.scalars(
                select(User.invite_code).where(User.id < fresh.first_id).order_by(func.random()).limit(many.users)
            )
        )
        inviter_codes *= -(-len(many_tokens) // max(len(inviter_codes), 1))  # a smoke run has fewer users
        (out / "fresh_many.pairs").write_text(
            "\n".join(f"{token} {code}" for token, code in zip(many_tokens, inviter_codes, strict=False)) + "\n"
        )
        deep = min(DEEP, max(influencer.referrals_count - 100, 1))  # smaller on a smoke run
        deep_row = db.session.execute(
            select(User.invited_at, User.id)
            .where(User.invited_by_id == influencer.id)
            .order_by(User.invited_at.desc(), User.id.desc())
            .offset(deep - 1)
            .limit(1)
        ).one()
        # Sign-ups: plain ones, and ones entering the influencer's code (the campaign path), each its own phones.
        for name, first in (("phones.txt", 0), ("phones_invite.txt", LIVE_CODES)):
            phones = [f"+7998{n:07d}" for n in range(first, first + LIVE_CODES)]
            _bulk_codes(phones)
            (out / name).write_text("\n".join(phones) + "\n")
        db.session.commit()
        # After a bulk load: statistics for the planner, and the visibility map for index-only scans.
        # Then a checkpoint, so the load's dirty pages are not written out in the middle of a measurement.
        started = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
            try:
                connection.execute(text("CHECKPOINT"))
            except Exception as error:  # needs a superuser (or pg_checkpoint): a nicety, not a requirement
                print(f"no CHECKPOINT: {error}", file=sys.stderr)
        vacuum_seconds = time.perf_counter() - started
        sizes = _sizes()
        # The console: the days rolled up (as the scheduled `flask console rollup` keeps them), and an admin's
        # console session that outlives the run (signed in past both factors, as prepare does for the tokens).
        rolled = programme.roll_up()
        staff.grant("+79990000099", "admin")
        console_token = secrets.token_urlsafe(32)
        member = staff_access.staff_of_phone("+79990000099")
        staff_access.new_console_session(
            hashlib.sha256(console_token.encode()).hexdigest(), member.user_id, clock.utcnow(), None
        )
        db.session.commit()
        (out / "console.cookie").write_text(console_token + "\n")
        meta = {
            "users": seeded.users + fresh.users + many.users,
            "rollup_seconds": round(rolled.seconds, 2),
            "seed_seconds": round(seed_seconds, 1),
            "vacuum_seconds": round(vacuum_seconds, 1),
            **sizes,
            "influencer_id": influencer.id,
            "influencer_referrals": influencer.referrals_count,
            "influencer_code": influencer.invite_code,
            "typical_id": typical.id,
            "typical_referrals": typical.referrals_count,
            "deep": deep,
            "deep_cursor": encode_cursor(deep_row.invited_at, deep_row.id),
            "fresh_tokens": fresh.users,
            "live_codes": LIVE_CODES,
            "code": CODE,
        }
        (out / "meta.json").write_text(json.dumps(meta, indent=2))
        print(json.dumps(meta))


def _sizes() -> dict[str, object]:
    """The database's size on disk after the seeding, and its five largest tables' (with their indexes)."""
    tables = db.session.execute(
        text(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC LIMIT 5"
        )
    ).all()
    return {
        "database_bytes": db.session.scalar(text("SELECT pg_database_size(current_database())")),
        "table_bytes": {name: size for name, size in tables},
    }


def _bulk_sessions(user_ids: range) -> list[str]:
    """A session and an access token for each user, written with COPY (start_session one by one is slow)."""
    now, expires = clock.utcnow(), clock.utcnow() + timedelta(days=1)
    rows, tokens = [], []
    for user_id in user_ids:
        sid = uuid.uuid4().hex
        rows.append((sid, user_id, str(uuid.uuid4()), now, expires))
        tokens.append(
            create_access_token(str(user_id), additional_claims={"sid": sid}, expires_delta=timedelta(hours=2))
        )
    _copy("sessions (id, user_id, refresh_jti, created_at, expires_at)", rows)
    return tokens


def _bulk_codes(phones: list[str]) -> None:
    now = clock.utcnow()
    rows = [
        ("login", phone, codes.hash_code(codes.Purpose.LOGIN, phone, CODE), 0, now, now + timedelta(hours=2))
        for phone in phones
    ]
    _copy("login_codes (purpose, phone, code_hash, attempts, created_at, expires_at)", rows)


def _copy(target: str, rows: list[tuple[object, ...]]) -> None:
    cursor = db.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    db.session.commit()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else USERS)

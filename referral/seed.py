"""Demo and benchmark data, made fast: rows planned in memory, then COPY on PostgreSQL (batched inserts on SQLite).

The plan keeps every invariant the API keeps: unique phones and invite codes from the alphabet, inviters older
than those they invite (so no loops), ``invited_at`` with ``invited_by_id``, and ``referrals_count`` equal to
the real count.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, text

from referral import clock
from referral.extensions import db
from referral.invites import INVITE_ALPHABET
from referral.models import INVITE_CODE_LENGTH, User

FIRST_NAMES = ["Anna", "Boris", "Vera", "Gleb", "Daria", "Egor", "Zoya", "Ivan", "Kira", "Lev", "Maria", "Nikita"]
LAST_NAMES = ["Ivanova", "Petrov", "Smirnova", "Kuznetsov", "Popova", "Sokolov", "Lebedeva", "Kozlov", "Novikova"]
COLUMNS = (
    "id",
    "phone",
    "invite_code",
    "first_name",
    "last_name",
    "invited_by_id",
    "invited_at",
    "referrals_count",
    "created_at",
)
BATCH = 10_000


@dataclass(frozen=True)
class SeedPlan:
    users: int
    influencer_referrals: int = 0
    chain: int = 0
    invited_share: float = 0.6
    seed: int | None = None


@dataclass(frozen=True)
class Seeded:
    users: int
    first_id: int
    influencer_phone: str | None
    chain_tail_phone: str | None


def seed_users(plan: SeedPlan) -> Seeded:
    """Add ``plan.users`` users in one transaction and commit."""
    rng = random.Random(plan.seed)
    first_id = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    rows = list(_rows(plan, rng, first_id))
    if db.session.get_bind().dialect.name == "postgresql":
        _copy(rows)
    else:
        for start in range(0, len(rows), BATCH):
            db.session.execute(
                insert(User), [dict(zip(COLUMNS, row, strict=True)) for row in rows[start : start + BATCH]]
            )
    db.session.commit()
    return Seeded(
        users=len(rows),
        first_id=first_id,
        influencer_phone=str(rows[0][1]) if plan.influencer_referrals and rows else None,
        chain_tail_phone=str(rows[-1][1]) if plan.chain and rows else None,
    )


def _rows(plan: SeedPlan, rng: random.Random, first_id: int) -> Iterator[tuple[object, ...]]:
    n = plan.users
    parents = _parents(plan, rng)
    counts = [0] * n
    for parent in parents:
        if parent is not None:
            counts[parent] += 1
    now = clock.utcnow()
    start = now - timedelta(days=365)
    step = timedelta(days=365) / max(n, 1)
    phone_offset = rng.randrange(10**7)
    codes = _unique_codes(n, rng)
    for i in range(n):
        created_at: datetime = start + step * i
        parent = parents[i]
        yield (
            first_id + i,
            f"+7999{(phone_offset + i) % 10**7:07d}" if n <= 10**7 else f"+79{(phone_offset + i) % 10**9:09d}",
            codes[i],
            rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES),
            None if parent is None else first_id + parent,
            None if parent is None else created_at + timedelta(seconds=1),
            counts[i],
            created_at,
        )


def _parents(plan: SeedPlan, rng: random.Random) -> list[int | None]:
    """Index of each user's inviter (always an earlier user), or None."""
    n = plan.users
    parents: list[int | None] = [None] * n
    influenced = min(plan.influencer_referrals, max(n - 1 - plan.chain, 0))
    chain_start = n - plan.chain
    for i in range(1, n):
        if i <= influenced:
            parents[i] = 0
        elif i > chain_start:
            parents[i] = i - 1
        elif rng.random() < plan.invited_share:
            parents[i] = rng.randrange(i)
    return parents


def _unique_codes(n: int, rng: random.Random) -> list[str]:
    codes: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < n:
        code = "".join(rng.choices(INVITE_ALPHABET, k=INVITE_CODE_LENGTH))
        if code not in codes:
            codes.add(code)
            ordered.append(code)
    return ordered


def _copy(rows: list[tuple[object, ...]]) -> None:
    connection = db.session.connection()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY users ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    connection.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))"))

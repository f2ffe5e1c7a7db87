"""Demo and benchmark data, made fast: rows planned in memory, then COPY on PostgreSQL (batched inserts on SQLite).

The plan keeps every invariant the API keeps: unique phones and invite codes from the alphabet, inviters older
than those they invite (so no loops), ``invited_at`` with ``invited_by_id``, and each inviter's count in one
``referral_counts`` row (slot 0) equal to the real count.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text

from referral import clock
from referral.extensions import db
from referral.infra.database import without_statement_timeout
from referral.infra.models import (
    INVITE_ALPHABET,
    INVITE_CODE_LENGTH,
    LINK_VISIT_SLOTS,
    InviteLinkVisit,
    InviteLinkVisitDay,
    ReferralCount,
    User,
)

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
    "created_at",
    "invite_channel",
    "referral_state",
    "referral_state_at",
)
INVITER = COLUMNS.index("invited_by_id")
INVITED_AT = COLUMNS.index("invited_at")
CHANNEL = COLUMNS.index("invite_channel")
# How the seeded referrals were made (link, code at sign-up, code later), and how many visits of the inviter's
# link each referral through a link stands for (the overview's conversion).
CHANNEL_WEIGHTS = {"link": 5, "code_at_signup": 3, "code_later": 2}
VISITS_PER_LINK_REFERRAL = (1, 6)
VISIT_COLUMNS = ("day", "user_id", "visits")
VISIT_DAY_COLUMNS = ("day", "slot", "visits")
COUNT_COLUMNS = ("user_id", "slot", "referrals", "qualified")
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
    without_statement_timeout()
    rng = random.Random(plan.seed)
    first_id = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    # Seeded referrals are qualified (as referrals made before qualification existed were), and counted so.
    rows = [
        (*row, *(("qualified", row[INVITED_AT]) if row[INVITER] is not None else (None, None)))
        for row in _rows(plan, rng, first_id, checking=first_id > 1)
    ]
    inviters = Counter(row[INVITER] for row in rows if row[INVITER] is not None)
    counts = [(inviter, 0, referrals, referrals) for inviter, referrals in inviters.items()]
    visits = _link_visits(rows, rng, checking=first_id > 1)
    shares = _day_shares(visits)
    if db.session.get_bind().dialect.name == "postgresql":
        _copy("users", COLUMNS, rows)
        _copy("referral_counts", COUNT_COLUMNS, counts)
        _copy("invite_link_visits", VISIT_COLUMNS, visits)
        _copy("invite_link_visit_days", VISIT_DAY_COLUMNS, shares)
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))"))
    else:
        tables = (
            (User, COLUMNS, rows),
            (ReferralCount, COUNT_COLUMNS, counts),
            (InviteLinkVisit, VISIT_COLUMNS, visits),
            (InviteLinkVisitDay, VISIT_DAY_COLUMNS, shares),
        )
        for table, columns, values in tables:
            for start in range(0, len(values), BATCH):
                batch = values[start : start + BATCH]
                db.session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in batch])
    db.session.commit()
    return Seeded(
        users=len(rows),
        first_id=first_id,
        influencer_phone=str(rows[0][1]) if plan.influencer_referrals and rows else None,
        chain_tail_phone=str(rows[-1][1]) if plan.chain and rows else None,
    )


def _rows(plan: SeedPlan, rng: random.Random, first_id: int, checking: bool) -> Iterator[tuple[object, ...]]:
    n = plan.users
    parents = _parents(plan, rng)
    now = clock.utcnow()
    start = now - timedelta(days=365)
    step = timedelta(days=365) / max(n, 1)
    phones = _fresh(_phones(n, rng), n, User.phone, checking)
    codes = _fresh(_codes(rng), n, User.invite_code, checking)
    channels, weights = list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values())
    for i in range(n):
        created_at: datetime = start + step * i
        parent = parents[i]
        channel = None if parent is None else rng.choices(channels, weights)[0]
        later = timedelta(hours=rng.uniform(1, 72)) if channel == "code_later" else timedelta(seconds=1)
        yield (
            first_id + i,
            phones[i],
            codes[i],
            rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES),
            None if parent is None else first_id + parent,
            None if parent is None else min(created_at + later, now),
            created_at,
            channel,
        )


def _link_visits(rows: Sequence[tuple[Any, ...]], rng: random.Random, checking: bool) -> list[tuple[date, int, int]]:
    """Visits of the inviters' links on the days their referrals came through them: one to six each (none when
    the table has rows already, as a second seed could repeat a day and inviter)."""
    if checking:
        return []
    visits: Counter[tuple[date, int]] = Counter()
    for row in rows:
        if row[CHANNEL] == "link":
            visits[row[INVITED_AT].date(), row[INVITER]] += rng.randint(*VISITS_PER_LINK_REFERRAL)
    return [(day, user_id, count) for (day, user_id), count in visits.items()]


def _day_shares(visits: Sequence[tuple[date, int, int]]) -> list[tuple[date, int, int]]:
    """The days' shares of those visits (``invite_link_visit_days``), as the visits themselves would count them."""
    shares: Counter[tuple[date, int]] = Counter()
    for day, user_id, count in visits:
        shares[day, user_id % LINK_VISIT_SLOTS] += count
    return [(day, slot, count) for (day, slot), count in shares.items()]


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


def _phones(n: int, rng: random.Random) -> Iterator[str]:
    """Mobile numbers from a random start, one after another (+7 999 while they fit, wider after)."""
    space = 10**7 if n <= 10**6 else 10**9
    offset = rng.randrange(space)
    for i in range(space):
        number = (offset + i) % space
        yield f"+7999{number:07d}" if space == 10**7 else f"+79{number:09d}"


def _codes(rng: random.Random) -> Iterator[str]:
    while True:
        yield "".join(rng.choices(INVITE_ALPHABET, k=INVITE_CODE_LENGTH))


def _fresh(candidates: Iterator[str], n: int, column: Any, checking: bool) -> list[str]:
    """``n`` distinct values, none of them already in ``column`` (looked up in chunks when the table has rows)."""
    chosen: list[str] = []
    seen: set[str] = set()
    while len(chosen) < n:
        chunk = []
        for value in candidates:
            if value not in seen:
                seen.add(value)
                chunk.append(value)
                if len(chunk) == min(BATCH, n - len(chosen)):
                    break
        if not chunk:
            raise RuntimeError(f"ran out of fresh values for {column}")
        taken = set(db.session.scalars(select(column).where(column.in_(chunk)))) if checking else set()
        chosen.extend(value for value in chunk if value not in taken)
    return chosen


def _copy(table: str, columns: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> None:
    cursor = db.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)

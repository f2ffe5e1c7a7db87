"""Is the programme working? The overview's figures for the last 7, 30 or 90 days (UTC days): sign-ups,
organic and referred; activations by channel; invite-link visits and the referrals made through a link; the
viral coefficient; SMS per sign-up and failed deliveries; the top referrers; the webhook backlog.

Each day is read from the roll-up (``flask console rollup`` recomputes the days from the raw rows, so a deletion
or a detached referral is reflected at the next run) as far as it counted it, and what came after is counted from
the raw rows at once: a day rolled up after it ended is read whole; today, rolled up minutes ago, costs a count of
the minutes since, not of the whole day (``docs/design.md``, "The console's numbers").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from functools import cached_property

from referral import clock
from referral.extensions import db
from referral.infra import programme_figures, referral_states
from referral.infra.programme_figures import DayFigures, TopReferrerRow

RANGES = (7, 30, 90)
ROLLED_UP_DAYS = max(RANGES) + 1  # the roll-up covers the longest range and the day before it
TOP_REFERRERS = 10
# The roll-up counts a day's rows up to this long before it runs: a transaction still open may yet commit a row
# stamped a moment ago, and the overview counts those live. A margin, not a proven bound: each statement ends within
# DB_STATEMENT_TIMEOUT_MS, but gunicorn's timeout ends no request of a gthread worker (it only restarts a worker
# that stops answering its heartbeat), so nothing bounds a whole transaction. Five minutes is many times what any
# request of the app takes; shortening it would shorten the overview's live rest (bench/RESULTS.md, 25th round).
SETTLING = timedelta(minutes=5)


def start_of(day: date) -> datetime:
    return datetime.combine(day, day_start(), tzinfo=UTC)


def today() -> date:
    return clock.utcnow().date()


def record_link_visit(owner_id: int) -> None:
    """One more visit of ``owner_id``'s invite link today (the pages count a browser once a day)."""
    programme_figures.count_link_visit(today(), owner_id)
    db.session.commit()


def figures_of(day: date, since: datetime | None = None) -> DayFigures:
    """The day's figures (of its rows stamped from ``since`` on, if given), counted from the raw rows; link
    visits are counted per day, so they are always the whole day's."""
    return programme_figures.figures_between(day, since or start_of(day), start_of(day + timedelta(days=1)))


def counted_until(day: date, now: datetime) -> datetime:
    """How far into ``day`` a roll-up at ``now`` counts: to its end once it has settled, else to ``SETTLING``
    before ``now`` (its start at the least)."""
    return max(start_of(day), min(start_of(day + timedelta(days=1)), now - SETTLING))


def with_rest(saved: DayFigures, rest: DayFigures) -> DayFigures:
    """A day's figures as rolled up, plus those of its rows stamped since (``rest``, with the day's link
    visits, which are counted per day: the roll-up's are left out)."""
    return DayFigures(*(a + b for a, b in zip(saved._replace(link_visits=0), rest, strict=True)))


@dataclass(frozen=True)
class Rolled:
    days: int
    seconds: float


def roll_up(days: int = ROLLED_UP_DAYS) -> Rolled:
    """Recompute the last ``days`` days, the top referrers of each range and the qualified total from the raw
    rows, in one transaction (the overview reads either the old figures or the new, never half of them)."""
    started, now, last = time.perf_counter(), clock.utcnow(), today()
    for offset in range(days):
        day = last - timedelta(days=offset)
        until = counted_until(day, now)
        figures = programme_figures.figures_between(day, start_of(day), until)
        programme_figures.save_day(day, figures, until, now)
    for range_days in RANGES:
        since = start_of(last - timedelta(days=range_days - 1))
        programme_figures.save_top_referrers(range_days, since, TOP_REFERRERS)
    referral_states.save_qualified_total(now)
    db.session.commit()
    return Rolled(days, time.perf_counter() - started)


@dataclass(frozen=True)
class Day:
    day: date
    figures: DayFigures


@dataclass(frozen=True)
class Overview:
    range_days: int
    days: list[Day]
    top_referrers: list[TopReferrerRow]
    webhook_pending: int
    webhook_oldest: datetime | None
    rolled_up_at: datetime | None  # the oldest roll-up among the days shown; None if all were counted now

    @cached_property
    def totals(self) -> DayFigures:
        """Each figure summed over the days."""
        return DayFigures(*(sum(column) for column in zip(*(day.figures for day in self.days), strict=True)))

    @property
    def signups(self) -> int:
        return self.totals.signups_organic + self.totals.signups_referred

    @property
    def activations(self) -> int:
        t = self.totals
        return t.activations_link + t.activations_code_at_signup + t.activations_code_later

    @property
    def link_conversion(self) -> float | None:
        """Referrals made through an invite link per visit of one."""
        return self.totals.activations_link / self.totals.link_visits if self.totals.link_visits else None

    @property
    def viral_coefficient(self) -> float | None:
        """Referrals made in the range per user who joined in it."""
        return self.activations / self.signups if self.signups else None

    @property
    def sms_per_signup(self) -> float | None:
        return self.totals.sms_sent / self.signups if self.signups else None


def overview(range_days: int) -> Overview:
    """The overview of the last ``range_days`` days, today included (one of ``RANGES``)."""
    last = today()
    first = last - timedelta(days=range_days - 1)
    saved = {row.day: row for row in programme_figures.saved_days(first, last)}
    days, rolled_at = [], None
    for offset in range(range_days):
        day = first + timedelta(days=offset)
        if (rolled := saved.get(day)) is None:
            figures = figures_of(day)
        else:
            rolled_at = rolled.computed_at if rolled_at is None else min(rolled_at, rolled.computed_at)
            settled = rolled.counted_until >= start_of(day + timedelta(days=1))  # rolled up whole once it had
            figures = rolled.figures if settled else with_rest(rolled.figures, figures_of(day, rolled.counted_until))
        days.append(Day(day, figures))
    pending, oldest = programme_figures.webhook_backlog()
    top = programme_figures.top_referrers(range_days)
    return Overview(range_days, days, top, pending, oldest, rolled_at)

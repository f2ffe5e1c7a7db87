"""``flask users``, ``referrals``, ``maintenance`` and ``demo``: the people, the tree, and the data."""

from __future__ import annotations

import time
from collections.abc import Callable

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from referral.domain import account, invites, programme
from referral.domain import maintenance as maintenance_rules
from referral.domain.phones import InvalidPhone, normalise_phone
from referral.extensions import db
from referral.infra.models import ReferralCount, User
from referral.infra.seed import SeedPlan, seed_users

users_cli = AppGroup("users", help="Look up and remove users.")
referrals_cli = AppGroup("referrals", help="The referral tree as a whole.")
maintenance = AppGroup("maintenance", help="Keep the database tidy.")
demo = AppGroup("demo", help="Data for trying the API and for benchmarks.")


# A command that may run as a worker loop instead of a cron line (compose has no cron).
every_option = click.option(
    "--every",
    type=click.IntRange(60),
    help="Run again every this many seconds, until stopped (a worker loop, instead of a cron line).",
)


def repeat(every: int | None, once: Callable[[], None]) -> None:
    """``once``, and with ``every`` again every that many seconds until the process is stopped."""
    while True:
        once()
        if every is None:
            return
        time.sleep(every)


def phone_argument(phone: str) -> str:
    """PHONE as E.164, or the command's usage error."""
    try:
        return normalise_phone(phone, current_app.config["DEFAULT_PHONE_REGION"])
    except InvalidPhone:
        raise click.BadParameter(f"{phone!r} is not a mobile number", param_hint="PHONE") from None


def find_user(phone: str) -> User:
    e164 = phone_argument(phone)
    user = db.session.scalars(select(User).where(User.phone == e164)).one_or_none()
    if user is None:
        raise click.ClickException(f"no user has the phone {e164}")
    return user


def user_line(user: User) -> str:
    name = f"{user.first_name} {user.last_name}".strip() or "-"
    return (
        f"{user.id:>8}  {user.phone:<16} {user.invite_code}  {user.referrals_count:>6}  "
        f"{user.created_at:%Y-%m-%d}  {name}"
    )


@users_cli.command("list")
@click.option("--search", help="Part of the phone number.")
@click.option("--invited/--not-invited", default=None, help="Only those who did / did not enter a code.")
@click.option("--invited-by", metavar="PHONE", help="Only the referrals of this user.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--after", "after_id", type=int, help="Start after this user id (the 'next' of the page before).")
def list_users(
    search: str | None, invited: bool | None, invited_by: str | None, limit: int, after_id: int | None
) -> None:
    """Users by id, a page at a time, with filters."""
    query = select(User).order_by(User.id).limit(limit)
    if search:
        query = query.where(User.phone.contains(search.strip(), autoescape=True))
    if invited is not None:
        query = query.where(User.invited_by_id.is_not(None) if invited else User.invited_by_id.is_(None))
    if invited_by:
        query = query.where(User.invited_by_id == find_user(invited_by).id)
    if after_id is not None:
        query = query.where(User.id > after_id)
    page = db.session.scalars(query).all()
    click.echo(f"{'id':>8}  {'phone':<16} {'code':<6}  {'refs':>6}  {'joined':<10}  name")
    for user in page:
        click.echo(user_line(user))
    if len(page) == limit:
        click.echo(f"next: --after {page[-1].id}")


@users_cli.command("show")
@click.argument("phone")
@click.option("--depth", default=3, show_default=True, type=click.IntRange(1, 10), help="Levels of the tree below.")
@click.option("--width", default=20, show_default=True, type=click.IntRange(1, 1000), help="Referrals shown per user.")
def show_user(phone: str, depth: int, width: int) -> None:
    """A user's profile, who invited them (up to the root), and the tree of their referrals."""
    user = find_user(phone)
    click.echo(f"id {user.id}, phone {user.phone}, invite code {user.invite_code}")
    click.echo(f"name: {user.first_name} {user.last_name}".rstrip())
    click.echo(f"joined {user.created_at:%Y-%m-%d %H:%M} UTC; {user.referrals_count} referrals")
    if user.activated_invite_code:
        click.echo(f"entered code {user.activated_invite_code} on {user.invited_at:%Y-%m-%d %H:%M} UTC")
    if chain := invites.inviter_chain(user.id):
        click.echo("invited by: " + " <- ".join(chain))
    click.echo("referrals:")
    _print_tree(user, depth, width, "  ")


def _print_tree(user: User, depth: int, width: int, indent: str) -> None:
    children = db.session.scalars(
        select(User).where(User.invited_by_id == user.id).order_by(User.invited_at.desc(), User.id.desc()).limit(width)
    ).all()
    for child in children:
        click.echo(f"{indent}{child.phone} ({child.referrals_count} referrals, joined {child.invited_at:%Y-%m-%d})")
        if depth > 1 and child.referrals_count:
            _print_tree(child, depth - 1, width, indent + "  ")
    if user.referrals_count > len(children):
        click.echo(f"{indent}... and {user.referrals_count - len(children)} more")


@users_cli.command("delete")
@click.argument("phone")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_user(phone: str, yes: bool) -> None:
    """Delete a user. Their referrals keep their accounts but are detached (they may enter another code)."""
    user = find_user(phone)
    if not yes:
        click.confirm(f"Delete {user.phone} (id {user.id}) and detach {user.referrals_count} referrals?", abort=True)
    shown = user.phone
    found = account.account_by_phone(user.phone)
    detached = account.delete_account(found) if found is not None else 0
    click.echo(f"deleted {shown}; {detached} referrals detached")


@referrals_cli.command("top")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
def top_referrers(limit: int) -> None:
    """The leaderboard: users with the most referrals."""
    count = func.sum(ReferralCount.referrals).label("referrals")
    counts = (
        select(ReferralCount.user_id, count).group_by(ReferralCount.user_id).having(count > 0).subquery()
    )  # from the count rows alone: the users table is not scanned
    leaders = db.session.execute(
        select(User, counts.c.referrals)
        .join(counts, counts.c.user_id == User.id)
        .order_by(counts.c.referrals.desc(), User.id)
        .limit(limit)
    ).all()
    for place, (user, referrals) in enumerate(leaders, 1):
        name = f"{user.first_name} {user.last_name}".strip()
        click.echo(f"{place:>4}. {user.phone:<16} {referrals:>8}  {name}")
    if not leaders:
        click.echo("nobody has referrals yet")


@maintenance.command("purge")
@every_option
@click.option("--batch", default=maintenance_rules.PURGE_BATCH, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--pause",
    default=maintenance_rules.PURGE_PAUSE_SECONDS,
    show_default=True,
    type=click.FloatRange(0, 60),
    help="Seconds between two batches, to leave the database to the API.",
)
def purge(every: int | None, batch: int, pause: float) -> None:
    """Delete expired login codes, sessions that have expired or were revoked, week-old SMS records, spent
    phone lockouts, idle console sessions, finished webhook deliveries and events past WEBHOOK_RETENTION_DAYS,
    and the fraud rules' footprints and decided holds' evidence past FRAUD_SIGNALS_DAYS: a batch per
    transaction, oldest first."""

    def once() -> None:
        started = time.perf_counter()
        purged = maintenance_rules.purge(batch, pause)
        sessions = purged["expired sessions"] + purged["revoked sessions"]
        click.echo(f"purged {purged['login codes']} login codes and {sessions} sessions")
        click.echo(
            f"purged {purged['footprints']} footprints and the evidence of {purged['evidence of decided holds']} "
            "decided holds"
        )
        rest = ", ".join(
            f"{purged[name]} {name}"
            for name in ("SMS records", "phone lockouts", "console sessions", "webhook deliveries", "webhook events")
        )
        click.echo(f"purged {rest} in {time.perf_counter() - started:.1f} s")

    repeat(every, once)


@demo.command("seed")
@click.option("--users", "count", default=1000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--influencer-referrals", default=0, show_default=True, help="Referrals of the first seeded user.")
@click.option("--chain", default=0, show_default=True, help="Length of a chain of invites at the end.")
@click.option("--seed", "random_seed", type=int, help="Seed for the random choices, to repeat a run.")
def seed(count: int, influencer_referrals: int, chain: int, random_seed: int | None) -> None:
    """Add realistic users with a referral forest, fast (COPY on PostgreSQL)."""
    started = time.perf_counter()
    plan = SeedPlan(users=count, influencer_referrals=influencer_referrals, chain=chain, seed=random_seed)
    seeded = seed_users(plan)
    click.echo(f"seeded {seeded.users} users (ids from {seeded.first_id}) in {time.perf_counter() - started:.1f} s")
    if seeded.influencer_phone:
        click.echo(f"influencer: {seeded.influencer_phone} with {influencer_referrals} referrals")
    if seeded.chain_tail_phone:
        click.echo(f"end of the chain of {chain}: {seeded.chain_tail_phone}")
    rolled = programme.roll_up()  # the console's overview has the seeded days to draw
    click.echo(f"rolled up the console's last {rolled.days} days in {rolled.seconds:.1f} s")

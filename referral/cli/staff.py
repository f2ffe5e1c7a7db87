"""``flask staff``: who may enter the console; ``flask console``: the numbers it shows."""

from __future__ import annotations

import io

import click
import segno
from flask.cli import AppGroup

from referral.cli.users import every_option, phone_argument, repeat
from referral.domain import programme, staff

staff_cli = AppGroup("staff", help="Grant, revoke and list the console's staff.")
console_cli = AppGroup("console", help="The console's numbers.")


@staff_cli.command("grant")
@click.argument("phone")
@click.option(
    "--role", type=click.Choice(staff.ROLES), required=True, help="support reads and helps; admin also changes."
)
def grant(phone: str, role: str) -> None:
    """Make the user of PHONE staff (their account is made if they have none) and show their authenticator's QR."""
    granted = staff.grant(phone_argument(phone), role)
    member = granted.member
    click.echo(f"{member.phone} is {member.role} staff (user {member.user_id}).")
    if not granted.new_secret:
        click.echo("Their authenticator secret is unchanged (revoke and grant again for a new one).")
        return
    click.echo("Scan this with an authenticator app (or enter the URI by hand); it is shown once:")
    click.echo(granted.provisioning_uri)
    drawn = io.StringIO()
    segno.make(granted.provisioning_uri, error="m").terminal(out=drawn, compact=True)
    click.echo(drawn.getvalue())


@staff_cli.command("revoke")
@click.argument("phone")
def revoke(phone: str) -> None:
    """PHONE is no longer staff; their console sessions end at once."""
    e164 = phone_argument(phone)
    if not staff.revoke(e164):
        raise click.ClickException(f"{e164} is not staff")
    click.echo(f"{e164} is no longer staff; their console sessions are ended.")


@staff_cli.command("list")
def list_staff() -> None:
    """The staff, oldest grant first."""
    for member in staff.all_staff():
        blocked = "  blocked" if member.blocked else ""
        click.echo(
            f"{member.user_id:>8}  {member.phone:<16} {member.role:<8} since {member.granted_at:%Y-%m-%d}{blocked}"
        )


@console_cli.command("rollup")
@click.option("--days", default=programme.ROLLED_UP_DAYS, show_default=True, type=click.IntRange(1, 3660))
@every_option
def rollup(days: int, every: int | None) -> None:
    """Recompute the overview's daily figures and top referrers from the raw rows (run it every few minutes:
    README, "The console")."""

    def once() -> None:
        rolled = programme.roll_up(days)
        click.echo(f"rolled up {rolled.days} days in {rolled.seconds:.2f} s")

    repeat(every, once)

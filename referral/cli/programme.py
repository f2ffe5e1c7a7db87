"""``flask apikeys``: the programme's server-to-server keys; ``flask rewards``: the reward rules;
``flask referrals qualify-due``: the sweep that qualifies referrals after N days; ``flask referrals trust``,
``distrust`` and ``trusted``: the inviters the volume rules of fraud do not hold (a planned campaign)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from referral.cli.users import every_option, find_user, referrals_cli, repeat
from referral.domain import api_keys, fraud, qualification, rewards
from referral.domain.errors import RewardRuleInvalid
from referral.extensions import db

apikeys_cli = AppGroup("apikeys", help="Keys of the programme's own backend for the server-to-server API.")
rewards_cli = AppGroup("rewards", help="What qualified referrals earn.")


@apikeys_cli.command("create")
@click.argument("name")
def create_key(name: str) -> None:
    """A new key for NAME (the system that will use it); the key is shown once."""
    made = api_keys.create(name)
    click.echo(f"key {made.id} for {made.name}; send it as X-API-Key (shown once):")
    click.echo(made.key)


@apikeys_cli.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke the key KEY_ID (the 8 characters after rk_): refused from the next request on."""
    if not api_keys.revoke(key_id):
        raise click.ClickException(f"no live key {key_id}")
    click.echo(f"key {key_id} revoked")


@apikeys_cli.command("list")
def list_keys() -> None:
    """Every key, newest first, live or revoked (never the secrets: they are not kept)."""
    for key in api_keys.keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "live"
        click.echo(f"{key.id}  {key.created_at:%Y-%m-%d}  {state:<24} {key.name}")


@rewards_cli.command("rules")
def list_rules() -> None:
    """The reward rules, those in force first."""
    found = rewards.rules()
    for rule in found:
        what = f"at {rule.threshold} qualified" if rule.kind == "milestone" else f"per referral, {rule.beneficiary}"
        cap = f", at most {rule.cap} per {rule.cap_days} d" if rule.cap else ""
        shown = "in force" if rule.active else "off"
        click.echo(f"{rule.id:>4}  {shown:<8}  {rule.label} ({rule.amount} {rule.unit}): {what}{cap}")
    if not found:
        click.echo("no reward rules yet (add them in the console, or with flask rewards add)")


@rewards_cli.command("add")
@click.option("--kind", type=click.Choice(rewards.KINDS), required=True)
@click.option("--beneficiary", type=click.Choice(rewards.BENEFICIARIES), default="inviter", show_default=True)
@click.option("--threshold", type=int, help="A milestone's number of qualified referrals.")
@click.option("--label", required=True, help='What the people see, e.g. "200 RUB credit".')
@click.option("--amount", type=int, required=True)
@click.option("--unit", required=True, help="RUB, points, ...")
@click.option("--cap", type=int, help="At most this many per inviter...")
@click.option("--cap-days", type=int, help="...in this many days.")
def add_rule(
    kind: str,
    beneficiary: str,
    threshold: int | None,
    label: str,
    amount: int,
    unit: str,
    cap: int | None,
    cap_days: int | None,
) -> None:
    """A new reward rule in force."""
    try:
        rule_id = rewards.add_rule(kind, beneficiary, label, amount, unit, threshold, cap, cap_days)
    except RewardRuleInvalid as refused:
        raise click.ClickException(refused.detail) from None
    db.session.commit()
    click.echo(f"rule {rule_id} in force")


@rewards_cli.command("switch")
@click.argument("rule_id", type=int)
@click.argument("state", type=click.Choice(["on", "off"]))
def switch_rule(rule_id: int, state: str) -> None:
    """Put the rule RULE_ID in force (on) or out of it (off); rewards already earned stay."""
    if not rewards.switch_rule(rule_id, state == "on"):
        raise click.ClickException(f"no rule {rule_id}")
    db.session.commit()
    click.echo(f"rule {rule_id} {state}")


@referrals_cli.command("qualify-due")
@every_option
def qualify_due(every: int | None) -> None:
    """With QUALIFY_REFERRALS=after_days:N, qualify the referrals whose N days are over (run it from cron, or
    with --every)."""
    how, days = qualification.mode()
    if how != "after_days":
        click.echo(f"QUALIFY_REFERRALS is {how}: nothing qualifies by time")
        return
    repeat(every, lambda: click.echo(f"qualified {qualification.qualify_due()} referrals (after {days} days)"))


@referrals_cli.command("trust")
@click.argument("phone")
@click.option("--reason", required=True, help='Why, for the record (e.g. "spring campaign with ...").')
def trust_inviter(phone: str, reason: str) -> None:
    """Trust the user with PHONE with a burst of referrals: the volume rules (more than FRAUD_REFERRALS_PER_HOUR,
    numbers in sequence or from one block) no longer hold theirs; a shared browser or network and the number's
    type still do."""
    user = find_user(phone)
    fraud.trust(user.id, reason.strip() or "-")
    db.session.commit()
    click.echo(f"trusted {user.phone} (id {user.id})")


@referrals_cli.command("distrust")
@click.argument("phone")
def distrust_inviter(phone: str) -> None:
    """The volume rules hold the referrals of the user with PHONE again."""
    user = find_user(phone)
    was = fraud.distrust(user.id)
    db.session.commit()
    click.echo(f"{user.phone} is no longer trusted" if was else f"{user.phone} was not trusted")


@referrals_cli.command("trusted")
@click.option("--limit", default=100, show_default=True)
def list_trusted(limit: int) -> None:
    """The trusted inviters, the newest first: when, by whom (staff id, or - from here), why."""
    for row in fraud.trusted(limit):
        by = row.trusted_by if row.trusted_by is not None else "-"
        click.echo(f"{row.user_id:>8}  {row.phone:<16} {row.trusted_at:%Y-%m-%d %H:%M}  {by!s:>6}  {row.reason}")

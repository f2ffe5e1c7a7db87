"""``flask`` commands for operators, one group per concern (a module each)."""

from __future__ import annotations

from flask import Flask

from referral.cli.sms import sms
from referral.cli.users import demo, maintenance, referrals_cli, users_cli
from referral.cli.webhooks import webhooks


def register_cli(app: Flask) -> None:
    for group in (users_cli, referrals_cli, maintenance, sms, webhooks, demo):
        app.cli.add_command(group)

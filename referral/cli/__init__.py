"""``flask`` commands for operators, one group per concern (a module each)."""

from __future__ import annotations

from flask import Flask

from referral.cli.programme import apikeys_cli, rewards_cli
from referral.cli.sms import sms
from referral.cli.staff import console_cli, staff_cli
from referral.cli.users import demo, maintenance, referrals_cli, users_cli
from referral.cli.webhooks import webhooks


def register_cli(app: Flask) -> None:
    for group in (
        users_cli,
        referrals_cli,
        maintenance,
        sms,
        webhooks,
        demo,
        staff_cli,
        console_cli,
        apikeys_cli,
        rewards_cli,
    ):
        app.cli.add_command(group)

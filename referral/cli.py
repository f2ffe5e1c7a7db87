"""``flask`` commands for operators, one group per concern."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import delete, or_

from referral import clock
from referral.extensions import db
from referral.models import AuthSession, LoginCode

maintenance = AppGroup("maintenance", help="Keep the database tidy.")


@maintenance.command("purge")
def purge() -> None:
    """Delete expired login codes and sessions that have expired or were revoked."""
    now = clock.utcnow()
    codes = db.session.execute(delete(LoginCode).where(LoginCode.expires_at <= now))
    sessions = db.session.execute(
        delete(AuthSession).where(or_(AuthSession.expires_at <= now, AuthSession.revoked_at.is_not(None)))
    )
    db.session.commit()
    click.echo(f"purged {codes.rowcount} login codes and {sessions.rowcount} sessions")  # type: ignore[attr-defined]


def register_cli(app: Flask) -> None:
    app.cli.add_command(maintenance)

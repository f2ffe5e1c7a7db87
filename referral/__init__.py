"""referral: a referral-system backend. ``create_app`` builds the Flask application.

The package has layers, each importing only those below it (``make lint`` checks it): ``console`` (the staff's
pages) -> ``web`` (the pages) and ``cli`` -> ``http`` (the API and what every request meets) -> ``domain`` (the
rules) -> ``infra`` (tables, database access, SMS, webhooks, token cache).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from config import Config


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    """Build the app from ``config`` (a settings object, or overrides on top of the environment's)."""
    from config import Config, load_config  # config.py imports this package's setting kinds

    app = Flask(__name__, instance_relative_config=True)
    settings = config if isinstance(config, Config) else load_config((config or {}).get("APP_ENV"))
    app.config.from_mapping(settings.as_dict())
    if isinstance(config, dict):
        app.config.update(config)

    register_logging(app)
    register_infrastructure(app)
    register_http(app)
    register_web(app)
    register_console(app)
    register_commands(app)
    return app


def register_logging(app: Flask) -> None:
    from referral.logs import configure_logging

    configure_logging(app.config)


def register_infrastructure(app: Flask) -> None:
    """The database (ORM and hot reads), migrations, SMS and webhook delivery."""
    from referral.extensions import db, migrate
    from referral.infra.database import init_database
    from referral.infra.sms import init_sms
    from referral.infra.sql import init_read_pool
    from referral.infra.webhooks import init_webhooks

    init_database(app)
    init_read_pool(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    init_sms(app)
    init_webhooks(app)


def register_http(app: Flask) -> None:
    """Request policy, tokens, limits, the blueprints and the one error path."""
    from referral.http import register_http_layer

    register_http_layer(app)


def register_web(app: Flask) -> None:
    """The pages, their languages and their error pages (after the API's error path, which they defer to)."""
    from referral.web import register_web as register_pages

    register_pages(app)


def register_console(app: Flask) -> None:
    """The staff console at /admin (after the pages: it shares their languages, filters and error pages)."""
    from referral.console import register_console as register_staff_console

    register_staff_console(app)


def register_commands(app: Flask) -> None:
    from referral.cli import register_cli

    register_cli(app)

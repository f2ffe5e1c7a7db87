"""referral: a referral-system backend. ``create_app`` builds the Flask application."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin

from config import Config, load_config


class NoCookieSession(SessionInterface):
    """The API is bearer tokens only: no signed-cookie session is opened or saved (Flask's would, per request)."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None  # Flask then uses its null session, which refuses writes

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


class ReferralApp(Flask):
    """Flask, remembering which functions it has made sure are synchronous.

    ``ensure_sync`` runs about ten times per request (every hook, and every decorator layer of flask-smorest and
    flask-jwt-extended), and each time ``inspect`` looks at the function's code flags again; the answer for a
    function never changes. Flask documents the method as the one to override. Every function it is handed is
    kept for the app's life: Flask and those libraries hand it views, hooks and decorator layers made once; a
    function made per request must not be passed to it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_functions: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        sync = self._sync_functions.get(func)
        if sync is None:
            sync = self._sync_functions[func] = super().ensure_sync(func)
        return sync


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    """Build the app from ``config`` (a settings object, or overrides on top of the environment's)."""
    app = ReferralApp(__name__, instance_relative_config=True)
    settings = config if isinstance(config, Config) else load_config((config or {}).get("APP_ENV"))
    app.config.from_mapping(settings.as_dict())
    if isinstance(config, dict):
        app.config.update(config)
    _default_database(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # bodies read in the order the contract shows
    app.session_interface = NoCookieSession()

    from referral.logs import configure_logging

    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_errors(app)
    register_commands(app)
    return app


def _default_database(app: Flask) -> None:
    """Without ``DATABASE_URL``, a SQLite file in the instance folder: the zero-setup development default.

    On PostgreSQL a second engine, ``reads``, opens its connections in autocommit mode once, for the reads of
    API ``GET``s (``database.read_rows``): no isolation level is switched per request.
    """
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{os.path.join(app.instance_path, 'referral.db')}"
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        # SQLite has no server to pool connections to; the pool sizes are PostgreSQL's.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    else:
        reads = {"url": url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"], "isolation_level": "AUTOCOMMIT"}
        reads["pool_reset_on_return"] = None  # an autocommit connection has nothing to roll back on return
        app.config["SQLALCHEMY_BINDS"] = {"reads": reads}


def register_extensions(app: Flask) -> None:
    from referral import models  # noqa: F401  (the tables must be known to Flask-Migrate)
    from referral.database import configure_sqlite, release_read_connection
    from referral.extensions import api, db, jwt, migrate
    from referral.limits import init_limits
    from referral.sessions import register_token_loaders
    from referral.sms import init_sms

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    app.teardown_request(release_read_connection)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    jwt.init_app(app)
    register_token_loaders(jwt)
    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    init_sms(app)
    init_limits(app)


def register_blueprints(app: Flask) -> None:
    from referral.auth.routes import blp as auth
    from referral.extensions import api
    from referral.profile.routes import blp as profile
    from referral.service import bp as service

    api.register_blueprint(auth)
    api.register_blueprint(profile)
    app.register_blueprint(service)


def register_errors(app: Flask) -> None:
    from referral.errors import register_error_handlers
    from referral.extensions import jwt
    from referral.json_bodies import register_request_hooks

    register_error_handlers(app, jwt)
    register_request_hooks(app)


def register_commands(app: Flask) -> None:
    from referral.cli import register_cli

    register_cli(app)

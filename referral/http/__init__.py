"""What speaks HTTP: the ``auth`` and ``profile`` API blueprints, the programme's server-to-server API, the
problem body every error ends in, the OpenAPI set-up, request policy (JSON bodies, request ids, per-IP limits),
bearer authentication and the health endpoints."""

from __future__ import annotations

from flask import Flask


def register_http_layer(app: Flask) -> None:
    """Everything a request meets, in the order it meets it."""
    from referral.extensions import jwt
    from referral.http.auth.routes import blp as auth
    from referral.http.bearer import init_bearer
    from referral.http.health import bp as health
    from referral.http.json_provider import ResponseJSON
    from referral.http.metrics import register_metrics
    from referral.http.openapi import api
    from referral.http.policy import register_request_policy
    from referral.http.problems import register_error_handlers
    from referral.http.profile.own_data import blp as own_data
    from referral.http.profile.routes import blp as profile
    from referral.http.programme.routes import blp as programme

    app.json = ResponseJSON(app)
    register_metrics(app)  # first: its timer starts before every other hook
    register_request_policy(app)
    jwt.init_app(app)
    init_bearer(app)
    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api.register_blueprint(auth)
    api.register_blueprint(profile)
    api.register_blueprint(own_data)
    api.spec.components.security_scheme("apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
    api.register_blueprint(programme)
    app.register_blueprint(health)
    register_error_handlers(app, jwt)

"""The per-IP caps (Flask-Limiter), shared by every process through Redis when ``REDIS_URL`` is set.

Two budgets per client IP: sending codes (``/auth/code`` and ``/profile/phone``) and checking codes
(``/auth/token`` and ``/profile/phone/confirm``). The per-phone caps live in ``domain/defences.py``.
"""

from __future__ import annotations

import time

from flask import Flask, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from referral.extensions import limiter

send_code_limit = limiter.shared_limit(lambda: current_app.config["RATELIMIT_AUTH_CODE"], scope="send-code")
check_code_limit = limiter.shared_limit(lambda: current_app.config["RATELIMIT_AUTH_TOKEN"], scope="check-code")


def init_limits(app: Flask) -> None:
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Only the last ``hops`` entries of X-Forwarded-For were written by our own proxies; the rest is
        # whatever the client claimed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    limiter.init_app(app)


def retry_after() -> int:
    """Whole seconds until the limit this request broke lets it through again."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, int(breached.reset_at - time.time()))

"""The per-IP caps (Flask-Limiter), shared by every process through Redis when ``REDIS_URL`` is set.

Two budgets per client IP: sending codes (``/auth/code`` and ``/profile/phone``) and checking codes
(``/auth/token`` and ``/profile/phone/confirm``). A request is counted after its answer, and only if the answer
cost us something (``deduct_when``): an outage costs the caller no budget. The check before the request sees
the count so far, so requests racing at the edge of a budget may pass it by the few that were in flight.
The per-phone caps live in ``domain/defences.py``.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from referral.extensions import limiter


def sent_a_code(response: Response) -> bool:
    """A code request costs the address only when a code went out (202, or the pages' redirect): a refusal or
    an outage (503) sent nothing."""
    return response.status_code < 400


def was_answered(response: Response) -> bool:
    """A code check costs the address whatever it decided (a wrong code must count), unless the service failed
    to decide at all (5xx)."""
    return response.status_code < 500


send_code_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_AUTH_CODE"], scope="send-code", deduct_when=sent_a_code
)
check_code_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_AUTH_TOKEN"], scope="check-code", deduct_when=was_answered
)


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

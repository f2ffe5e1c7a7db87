"""``GET /metrics`` for Prometheus, and each request's count and latency (``infra/metrics.py`` says what is kept).

Who may read it: with ``METRICS_TOKEN`` set, a request bearing it (``Authorization: Bearer ...``, compared in
constant time); without one, only a peer on the loopback interface. Anyone else gets a 404 (problem details),
and nginx refuses the path from the public before it reaches the app (``deploy/nginx.conf.template``). It is not
part of the API: it is not in the OpenAPI document.
"""

from __future__ import annotations

import ipaddress
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request

from referral import clock
from referral.extensions import SMS_DISPATCHER
from referral.infra import metrics
from referral.infra.programme_figures import webhook_backlog

bp = Blueprint("metrics", __name__)


def register_metrics(app: Flask) -> None:
    """Time every request from its first hook (register this before the others) and count its answer."""
    app.before_request(start_timer)
    app.after_request(count_request)
    app.register_blueprint(bp)
    metrics.watch_sessions()


def start_timer() -> None:
    g.metrics_started = time.perf_counter()


def count_request(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        metrics.observe_request(route_rule(), request.method, response.status_code, time.perf_counter() - started)
    return response


def route_rule() -> str:
    """The rule of the route the request matched (never its raw path), the metrics' ``endpoint`` label."""
    return request.url_rule.rule if request.url_rule is not None else metrics.UNMATCHED


@bp.get("/metrics")
def scrape() -> Response:
    if not may_scrape():
        abort(404)
    backlog = metrics.Backlog(webhook_backlog, sms_queue_depth, clock.utcnow)
    return Response(metrics.exposition(backlog), mimetype=None, content_type=metrics.CONTENT_TYPE)


def may_scrape() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    if token:
        return metrics.bearer_matches(request.headers.get("Authorization", ""), token)
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or request.environ.get(
        "REMOTE_ADDR", ""
    )
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


def sms_queue_depth() -> int | None:
    depth: int | None = current_app.extensions[SMS_DISPATCHER].shared_depth()
    return depth

"""Prometheus metrics: what an operator watches and alerts on (``deploy/prometheus/alerts.yml``).

Under gunicorn every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` (``gunicorn.conf.py``
sets it and empties it when the server starts) and ``/metrics``, answered by any worker, sums them: a counter
of a worker that exited stays in the sum, so counters only reset when the whole server restarts, which
Prometheus' ``rate()`` expects. Without the variable (``flask run``, the tests) the process's own registry is
read.

**Labels are bounded sets**: a route's rule (never the raw path), a method of a known list, a status code, a
dependency, an outcome, a channel; never a phone, a code, an id or an address. What is counted where something
commits (sign-ups, activations) is counted after the commit (``count_on_commit``): a transaction rolled back
counts nothing.

The backlog figures (the webhook outbox, the RQ queue, whether the database answers) are read when Prometheus
scrapes, by ``Backlog``: one statement and one Redis call a scrape.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import QueuePool

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the endpoint label of a request no route matched (an unknown path, a 405)

REQUESTS = Counter(
    "referral_http_requests_total",
    "HTTP requests answered, by the route's rule, the method and the status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "referral_http_request_duration_seconds",
    "Time from the request's first hook to its response, by the route's rule and the method.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UNAVAILABLE = Counter(
    "referral_dependency_unavailable_total",
    "503 answers because a dependency could not answer, by dependency (database, database_pool: no connection "
    "free in time, sms_queue).",
    ["dependency"],
)
SECURITY_EVENTS = Counter(
    "referral_security_events_total",
    "Security events (domain/audit.py): code_requested, code_wrong, phone_locked, send_capped, ...",
    ["event"],
)
CODES_VERIFIED = Counter("referral_codes_verified_total", "One-time codes verified, by purpose.", ["purpose"])
LIMIT_REFUSALS = Counter(
    "referral_rate_limit_refusals_total",
    "Requests refused by a per-IP or per-key limit (429), by the route's rule and the limit.",
    ["endpoint", "limit"],
)
SMS_REQUESTED = Counter(
    "referral_sms_requested_total", "Messages handed to the SMS dispatcher, by purpose.", ["purpose"]
)
SMS_DELIVERIES = Counter(
    "referral_sms_deliveries_total",
    "Attempts to deliver a message, by backend and outcome (sent, retrying, failed).",
    ["backend", "outcome"],
)
SMS_QUEUED = Gauge(
    "referral_sms_queue_depth",
    "Messages waiting in the app processes' own delivery queues (without Redis; with it, see the RQ queue's).",
    multiprocess_mode="livesum",
)
WEBHOOK_DELIVERIES = Counter(
    "referral_webhook_deliveries_total",
    "Webhook delivery attempts, by what followed (delivered, pending: retried later, failed, disabled).",
    ["outcome"],
)
SIGNUPS = Counter("referral_signups_total", "Accounts made, invited (yes) or not (no).", ["invited"])
ACTIVATIONS = Counter(
    "referral_activations_total",
    "Referrals made, by channel (link, code_at_signup, code_later).",
    ["channel"],
)
REFERRAL_STATES = Counter(
    "referral_referrals_moved_total",
    "Referrals that reached a state (qualified, held, voided).",
    ["state"],
)
POOL_IN_USE = Gauge(
    "referral_db_pool_connections_in_use",
    "Database connections checked out of the app's pools now.",
    multiprocess_mode="livesum",
)
POOL_WAIT = Histogram(
    "referral_db_pool_wait_seconds",
    "From a transaction's start to its connection out of the pool: the wait when every connection is busy.",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 3.0),
)
POOL_SIZE = Gauge(
    "referral_db_pool_size",
    "Connections the app's pools keep (their overflow aside); in use near it means requests wait.",
    multiprocess_mode="livesum",
)

ON_COMMIT = "metrics_on_commit"


# Each metric's child for a set of labels, kept: ``labels()`` validates and locks on every call, and the sets
# are bounded (that is the rule), so the children are too.
_children: dict[tuple[Any, ...], Any] = {}


def child(metric: Counter | Histogram, *labels: str) -> Any:
    """``metric.labels(*labels)``, made once per process."""
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """One answered request: ``endpoint`` is the route's rule (UNMATCHED when no route matched)."""
    method = method if method in METHODS else "other"
    child(REQUESTS, endpoint, method, str(status)).inc()
    child(LATENCY, endpoint, method).observe(seconds)


def count_on_commit(session: Session, counter: Counter, *labels: str) -> None:
    """Count one of ``counter`` when ``session``'s transaction commits (nothing if it rolls back)."""
    session.info.setdefault(ON_COMMIT, []).append(child(counter, *labels))


def _counted(session: Session) -> None:
    for counted in session.info.pop(ON_COMMIT, ()):
        counted.inc()


def _forgotten(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:  # the whole transaction, not a savepoint inside it
        session.info.pop(ON_COMMIT, None)


def watch_sessions() -> None:
    """Apply what ``count_on_commit`` kept when a session commits; forget it when it rolls back."""
    if not event.contains(Session, "after_commit", _counted):
        event.listen(Session, "after_commit", _counted)
        event.listen(Session, "after_soft_rollback", _forgotten)


def watch_pools(engines: list[Engine]) -> None:
    """The pools' connections in use (checked out, not yet returned), their size (a QueuePool's), and how
    long a session's transaction waited for its connection."""
    sizes = [engine.pool.size() for engine in engines if isinstance(engine.pool, QueuePool)]
    POOL_SIZE.set(sum(sizes))
    for engine in engines:
        event.listen(engine, "checkout", _checked_out)
        event.listen(engine, "checkin", _checked_in)
    if not event.contains(Session, "after_transaction_create", _transaction_started):
        event.listen(Session, "after_transaction_create", _transaction_started)
        event.listen(Session, "after_transaction_end", _transaction_ended)


_asked_at: ContextVar[float | None] = ContextVar("pool_asked_at", default=None)


def _transaction_started(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # a session's own transaction: its connection is asked for next
        _asked_at.set(time.perf_counter())


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        _asked_at.set(None)


def _checked_out(*_: object) -> None:
    POOL_IN_USE.inc()
    asked = _asked_at.get()
    if asked is not None:
        POOL_WAIT.observe(time.perf_counter() - asked)
        _asked_at.set(None)


def _checked_in(*_: object) -> None:
    POOL_IN_USE.dec()


class Backlog(Collector):
    """Figures read at the scrape: the webhook outbox (events pending, the oldest one's age), the RQ queue's
    depth, and whether the database answers. ``read_outbox`` and ``read_queue`` raise if they cannot say."""

    def __init__(
        self,
        read_outbox: Callable[[], tuple[int, datetime | None]],
        read_queue: Callable[[], int | None],
        now: Callable[[], datetime],
    ) -> None:
        self.read_outbox, self.read_queue, self.now = read_outbox, read_queue, now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("referral_database_up", "1 if the database answered this scrape's statement.")
        try:
            pending, oldest = self.read_outbox()
        except Exception as error:  # the database is down: say so, and the rest of the scrape still answers
            log.warning("metrics: the outbox could not be read: %s", type(error).__name__)
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            yield GaugeMetricFamily(
                "referral_webhook_pending_deliveries", "Webhook deliveries waiting (due or retrying).", value=pending
            )
            age = (self.now() - oldest).total_seconds() if oldest is not None else 0.0
            yield GaugeMetricFamily(
                "referral_webhook_oldest_pending_seconds",
                "Age of the oldest webhook delivery still pending (0 when none is).",
                value=max(age, 0.0),
            )
        yield up
        try:
            depth = self.read_queue()
        except Exception as error:
            log.warning("metrics: the SMS queue could not be read: %s", type(error).__name__)
            depth = None
        if depth is not None:
            yield GaugeMetricFamily(
                "referral_sms_rq_queue_depth", "Messages waiting in Redis for `flask sms worker`.", value=depth
            )


def exposition(backlog: Backlog) -> bytes:
    """The metrics in Prometheus' text format: every process's samples summed (or this process's), and the
    backlog read now."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(backlog)
    return generate_latest(registry) + generate_latest(scraped)


def bearer_matches(authorization: str, token: str) -> bool:
    """Whether an ``Authorization`` header bears ``token`` (compared in constant time)."""
    given = authorization.removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


def serve_for_worker(config: Mapping[str, Any]) -> None:
    """A worker's own metrics (its deliveries), if WORKER_METRICS_PORT says where."""
    if config["WORKER_METRICS_PORT"]:
        serve_in_background(config["WORKER_METRICS_PORT"], config["METRICS_TOKEN"])


def serve_in_background(port: int, token: str) -> None:
    """This process's metrics at ``/metrics`` on ``port``, from a daemon thread: for the workers, which answer
    no HTTP otherwise. With ``token``, only to ``Authorization: Bearer <token>``; anyone else gets a 404."""
    exposed = make_wsgi_app()

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        allowed = not token or bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), token)
        if not allowed or environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        result: Iterable[bytes] = exposed(environ, start_response)
        return result

    server = make_server("0.0.0.0", port, guarded, ThreadingWSGIServer, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics served on port %d", port)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
        """Scrapes every 15 s are not worth a log line each."""

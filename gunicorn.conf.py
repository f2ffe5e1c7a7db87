"""gunicorn settings for production, from the environment (the Dockerfile and the benchmark use this file)."""

import json
import multiprocessing
import os
import tempfile
import traceback
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
# Threads overlap the waits on PostgreSQL; processes use the cores. 2 x cores is the usual start.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycling workers (GUNICORN_MAX_REQUESTS) is off: a restart costs a worker's boot, and the benchmark shows
# memory flat at about 100 MiB per worker. Set it if a leak ever shows up; the jitter staggers the restarts.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "1000"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


class JsonAccessLogger(Logger):
    """gunicorn's logger, with the access log written by ``json.dumps``: one JSON object per request, carrying
    the same X-Request-ID as the app's own log lines, with the fields, names and types of the format string it
    replaces (``time`` in gunicorn's common-log form, ``bytes`` a string, ``-`` when unknown).

    gunicorn's ``access_log_format`` escapes only ``"`` in what it writes, so a request for ``/%5C`` (a
    backslash in the decoded path) left a line that no log collector could parse: a request missing from the
    access log. And building its atoms (every request and response header, then the format) cost about 58 µs a
    request; this costs 20-26 (bench/RESULTS.md, twenty-first round)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        status = str(resp.status).split(None, 1)[0]  # "200 OK", as gunicorn keeps it
        sent = getattr(resp, "sent", None)
        line = {
            "time": self.now(),
            "logger": "gunicorn.access",
            "request_id": next((value for name, value in resp.headers if name.lower() == "x-request-id"), "-"),
            "remote": environ.get("REMOTE_ADDR", "-"),
            "method": environ.get("REQUEST_METHOD", "-"),
            "path": environ.get("PATH_INFO", "-"),
            "status": int(status) if status.isdigit() else status,
            "bytes": "-" if sent is None else str(sent),
            "ms": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }
        try:
            self.access_log.info(json.dumps(line))
        except Exception:
            self.error(traceback.format_exc())


logger_class = JsonAccessLogger

# Prometheus metrics (referral/infra/metrics.py): each worker writes its samples to files in this directory and
# GET /metrics sums them, so a worker that exits keeps its counts in the sum. Emptied when the server starts (a
# server restart is a counter reset, as Prometheus expects); one directory per port, so two servers on one host
# do not add up.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"referral-metrics-{bind.rsplit(':', 1)[-1]}")
)


def on_starting(server):  # noqa: ARG001 (gunicorn's hook signature)
    """Before any worker: nothing of a previous run may be summed in."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def child_exit(server, worker):  # noqa: ARG001
    """A worker exited: its live gauges (connections in use, queued messages) leave the sum; its counts stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

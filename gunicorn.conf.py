"""gunicorn settings for production, from the environment (the Dockerfile and the benchmark use this file)."""

import multiprocessing
import os
import tempfile

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
# One JSON object per request, carrying the same X-Request-ID as the app's own log lines.
access_log_format = (
    '{"time": "%(t)s", "logger": "gunicorn.access", "request_id": "%({x-request-id}o)s", "remote": "%(h)s", '
    '"method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", "ms": %(M)s}'
)

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

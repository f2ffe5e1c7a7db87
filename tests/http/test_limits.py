"""Two app processes, one database and one Redis: the limits hold across both, as in production."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from referral.extensions import db

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def two_servers(app, postgres_only, redis_url, tmp_path):
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "FLASK_APP": "wsgi",
        "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url,
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"],
    }
    servers, urls = [], []
    for n in range(2):
        port = free_port()
        log = open(tmp_path / f"server{n}.log", "w")  # noqa: SIM115
        command = [sys.executable, "-m", "flask", "run", "--port", str(port), "--no-reload"]
        servers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_until_up(url)
        yield urls
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)


@contextlib.contextmanager
def gunicorn_serving(app, tmp_path: Path, **settings: str) -> Iterator[tuple[int, subprocess.Popen]]:
    """The app under gunicorn with the image's config (``gunicorn.conf.py``) on a free port, against the test
    database, with ``settings`` over the environment; its port and process once it answers, stopped after."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "SECRET_KEY": app.config["SECRET_KEY"],
        "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"],
        **settings,
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    with open(tmp_path / "server.log", "w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
        yield port, process
    finally:
        process.terminate()
        process.wait(20)


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def post(url: str, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.committing
def test_the_per_ip_cap_counts_requests_to_both_processes(two_servers):
    answers = [post(two_servers[n % 2], "/api/v1/auth/code", {"phone": f"+7999555{n:04d}"}) for n in range(7)]
    assert [status for status, _ in answers] == [202] * 5 + [429, 429]
    assert answers[5][1]["code"] == "rate_limited"


@pytest.mark.committing
def test_the_per_phone_rules_hold_across_both_processes(two_servers):
    first, _ = post(two_servers[0], "/api/v1/auth/code", {"phone": "+79995550001"})
    second, body = post(two_servers[1], "/api/v1/auth/code", {"phone": "+79995550001"})
    assert (first, second) == (202, 429)
    assert body["code"] == "code_resend_too_soon"

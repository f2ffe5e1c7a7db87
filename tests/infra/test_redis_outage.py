"""With REDIS_URL set and Redis gone: the per-IP caps fall back to each process's memory (and say so in the
log), a code that cannot be queued is withdrawn and answered 503, and both recover without a restart."""

import os
import subprocess
import sys
import time
import uuid
from urllib.parse import urlparse

import pytest
from sqlalchemy import text

from referral.extensions import db
from tests.http.test_limits import ROOT, free_port, post, wait_until_up
from tests.tcp_proxy import CuttableProxy


@pytest.fixture
def redis_behind_a_cut(redis_url):
    parsed = urlparse(redis_url)
    proxy = CuttableProxy((parsed.hostname or "127.0.0.1", parsed.port or 6379))
    yield proxy, f"redis://127.0.0.1:{proxy.port}{parsed.path or '/0'}"
    proxy.cut()


@pytest.fixture
def server(app, postgres_only, redis_behind_a_cut, tmp_path):
    proxy, url = redis_behind_a_cut
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "development",  # the console sender, queued through RQ (testing would deliver in-process)
        "FLASK_APP": "wsgi",
        "OTP_DEBUG": "true",
        "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "REDIS_URL": url,
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "RATELIMIT_AUTH_TOKEN": "3 per minute",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"],
    }
    log = tmp_path / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "run", "--port", str(port), "--no-reload"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}", proxy, log
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.committing
def test_a_code_that_cannot_be_queued_is_withdrawn_with_503_and_sends_resume_when_redis_returns(server):
    url, proxy, _ = server
    proxy.cut()
    started = time.monotonic()
    status, body = post(url, "/api/v1/auth/code", {"phone": "+79995550101"})
    assert (status, body["code"]) == (503, "service_unavailable")
    assert time.monotonic() - started < 5
    proxy.restore()
    status, body = post(url, "/api/v1/auth/code", {"phone": "+79995550101"})  # at once: the code was withdrawn
    assert status == 202, body


@pytest.mark.committing
def test_the_per_ip_cap_holds_in_memory_while_redis_is_away_and_says_so(server):
    url, proxy, log = server
    proxy.cut()
    statuses = [post(url, "/api/v1/auth/token", {"phone": "+79995550102", "code": "1234"})[0] for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert "falling back to in-memory storage" in log.read_text()


@pytest.mark.committing
def test_code_requests_refused_during_an_outage_cost_the_phone_and_the_address_nothing(server):
    """Six 503s in a row for one phone from one address (more than the per-IP five a minute and the per-phone
    five an hour), then Redis is back: the next code request goes out at once."""
    url, proxy, _ = server
    proxy.cut()
    statuses = [post(url, "/api/v1/auth/code", {"phone": "+79995550103"})[0] for _ in range(6)]
    assert statuses == [503] * 6
    proxy.restore()
    status, body = post(url, "/api/v1/auth/code", {"phone": "+79995550103"})
    assert status == 202, body
    sends = db.session.scalar(text("SELECT count(*) FROM sms_sends WHERE phone = '+79995550103'"))
    assert sends == 1  # the withdrawn ones are not counted against the phone


@pytest.mark.committing
def test_a_phone_change_code_refused_during_an_outage_costs_nothing_either(server):
    url, proxy, _ = server
    status, body = post(url, "/api/v1/auth/code", {"phone": "+79995550104"})
    assert status == 202, body
    status, tokens = post(url, "/api/v1/auth/token", {"phone": "+79995550104", "code": body["debug_code"]})
    assert status == 201, tokens
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    proxy.cut()
    statuses = [post(url, "/api/v1/profile/phone", {"phone": "+79995550105"}, headers)[0] for _ in range(6)]
    assert statuses == [503] * 6
    proxy.restore()
    status, body = post(url, "/api/v1/profile/phone", {"phone": "+79995550105"}, headers)
    assert status == 202, body

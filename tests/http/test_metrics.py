"""``GET /metrics``: who may read it, each metric moving after the traffic that should move it, label sets that
stay bounded whatever the traffic, and (under gunicorn) the samples of two workers summed."""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from tests.http.test_limits import ROOT, free_port, gunicorn_serving, wait_until_up

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **kwargs) -> Samples:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Meter:
    """What moved between two scrapes."""

    def __init__(self, client) -> None:
        self.client = client
        self.before = scrape(client)

    def moved(self, name: str, **labels: str) -> float:
        return value(scrape(self.client), name, **labels) - value(self.before, name, **labels)


@pytest.fixture
def meter(client) -> Meter:
    return Meter(client)


def test_only_a_loopback_peer_reads_it_without_a_token(client):
    response = client.get("/metrics")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404


def test_with_a_token_set_only_its_bearer_reads_it(app, client):
    app.config["METRICS_TOKEN"] = "scrape-" + secrets.token_hex(8)
    assert client.get("/metrics").status_code == 404  # loopback is not enough now
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    given = {"Authorization": f"Bearer {app.config['METRICS_TOKEN']}"}
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", headers=given, environ_base=outside).status_code == 200


def test_it_is_not_in_the_openapi_document(client):
    assert "/metrics" not in client.get("/openapi.json").json["paths"]


def test_requests_are_counted_by_the_routes_rule_method_and_status(client, api, meter):
    anna = api.sign_in("+79990000001")
    client.get("/api/v1/profile", headers={"Authorization": f"Bearer {anna['access_token']}"})
    client.get("/api/v1/profile")
    client.get("/no/such/page")
    assert meter.moved("referral_http_requests_total", endpoint="/api/v1/profile", method="GET", status="200") == 1
    assert meter.moved("referral_http_requests_total", endpoint="/api/v1/profile", method="GET", status="401") == 1
    assert meter.moved("referral_http_requests_total", endpoint="unmatched", method="GET", status="404") == 1
    latency = "referral_http_request_duration_seconds_count"
    assert meter.moved(latency, endpoint="/api/v1/profile", method="GET") == 2
    assert (
        meter.moved(
            "referral_http_request_duration_seconds_bucket", endpoint="/api/v1/profile", method="GET", le="+Inf"
        )
        == 2
    )


def test_codes_issued_verified_and_wrong_and_lockouts(app, client, api, meter):
    api.sign_in("+79990000002")
    client.post("/api/v1/auth/code", json={"phone": "+79990000003"})
    for _ in range(app.config["OTP_MAX_ATTEMPTS"]):
        client.post("/api/v1/auth/token", json={"phone": "+79990000003", "code": "0000"})
    assert meter.moved("referral_security_events_total", event="code_requested") == 2
    assert meter.moved("referral_codes_verified_total", purpose="login") == 1
    assert meter.moved("referral_security_events_total", event="code_wrong") >= 1
    assert meter.moved("referral_sms_requested_total", purpose="login") == 2
    assert meter.moved("referral_sms_deliveries_total", backend="memory", outcome="sent") == 2


def test_a_lockout_is_counted(app, client, api, clock, meter):
    app.config["OTP_LOCKOUT_FAILURES"] = 2
    phone = "+79990000004"
    for _ in range(2):
        code = api.request_code(phone)
        client.post("/api/v1/auth/token", json={"phone": phone, "code": "0000" if code != "0000" else "1111"})
        clock.advance(seconds=app.config["OTP_RESEND_SECONDS"] + 1)
    assert meter.moved("referral_security_events_total", event="phone_locked") == 1


def test_per_ip_refusals_are_counted_by_limit(app, client, meter):
    app.config["RATELIMIT_AUTH_CODE"] = "2 per minute"
    for n in range(3):
        client.post("/api/v1/auth/code", json={"phone": f"+7999000001{n}"})
    assert meter.moved("referral_rate_limit_refusals_total", endpoint="/api/v1/auth/code", limit="2 per 1 minute") == 1


def test_sign_ups_and_activations_by_channel(api, meter):
    anna = api.sign_in("+79161234571")
    api.sign_in("+79261987642", invite_code=anna["user"]["invite_code"])  # far apart: the fraud rules stay out
    assert meter.moved("referral_signups_total", invited="no") == 1
    assert meter.moved("referral_signups_total", invited="yes") == 1
    assert meter.moved("referral_activations_total", channel="code_at_signup") == 1
    moved = {state: meter.moved("referral_referrals_moved_total", state=state) for state in ("qualified", "held")}
    assert moved == {"qualified": 1, "held": 0}


def test_a_rolled_back_sign_up_counts_nothing(app, client, monkeypatch, meter):
    from referral.domain import events

    announce = events.user_created

    def announced_then_lost(*args, **kwargs):
        announce(*args, **kwargs)
        raise OperationalError("COMMIT", {}, Exception("connection lost"))

    monkeypatch.setattr(events, "user_created", announced_then_lost)
    code = client.post("/api/v1/auth/code", json={"phone": "+79990000007"}).json.get("debug_code")
    assert client.post("/api/v1/auth/token", json={"phone": "+79990000007", "code": code}).status_code == 503
    assert meter.moved("referral_signups_total", invited="no") == 0
    assert meter.moved("referral_codes_verified_total", purpose="login") == 0
    assert meter.moved("referral_dependency_unavailable_total", dependency="database") == 1


def test_webhook_deliveries_and_the_backlog(app, api, client, receiver, meter):
    from referral.infra import webhooks

    api.sign_in("+79990000008")
    samples = scrape(client)
    assert value(samples, "referral_webhook_pending_deliveries") == 1
    assert value(samples, "referral_webhook_oldest_pending_seconds") >= 0
    assert value(samples, "referral_database_up") == 1
    webhooks.deliver_due(app.config)
    assert meter.moved("referral_webhook_deliveries_total", outcome="delivered") == 1
    assert value(scrape(client), "referral_webhook_pending_deliveries") == 0


def test_the_scrape_answers_while_the_database_does_not(client, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr("referral.http.metrics.webhook_backlog", down)
    samples = scrape(client)
    assert value(samples, "referral_database_up") == 0
    assert ("referral_webhook_pending_deliveries", frozenset()) not in samples


def test_the_pool_in_use_is_back_to_where_it_was_after_requests(client, api, meter):
    api.sign_in("+79990000009")
    assert meter.moved("referral_db_pool_connections_in_use") == 0


def test_random_paths_and_phones_add_no_series(app, client):
    """A thousand requests to unknown paths and for random phones: the set of series does not grow."""

    def traffic(n: int) -> None:
        for _ in range(n):
            client.get(f"/{secrets.token_hex(6)}/{secrets.token_hex(4)}")
            client.post("/api/v1/auth/code", json={"phone": f"+7999{secrets.randbelow(10**7):07d}"})
            client.post("/api/v1/auth/token", json={"phone": f"+7999{secrets.randbelow(10**7):07d}", "code": "1234"})

    traffic(25)  # each kind of answer (the limits' 429s included) once, so its series exist
    before = set(scrape(client))
    traffic(334)  # 1,002 requests
    after = set(scrape(client))
    assert after == before, sorted(after - before)[:5]
    text = client.get("/metrics").get_data(as_text=True)
    assert "+7999" not in text and "/api/v1/auth/code" in text


# Under gunicorn: two workers write their samples to files, and any worker's /metrics sums them all.


@pytest.fixture
def gunicorn(app, postgres_only, tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_999999.db").write_bytes(b"left from a previous run")
    settings = {
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        "GUNICORN_ACCESS_LOG": "",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "RATELIMIT_ENABLED": "false",  # every request comes from 127.0.0.1
    }
    with gunicorn_serving(app, tmp_path, **settings) as (port, process):
        yield port, process, tmp_path / "metrics"


def scrape_over_http(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return parse(response.read().decode())


def healthz_count(samples: Samples) -> float:
    return value(samples, "referral_http_requests_total", endpoint="/healthz", method="GET", status="200")


def test_two_workers_samples_are_summed_and_outlive_a_worker(gunicorn):
    port, master, directory = gunicorn
    assert not (directory / "counter_999999.db").exists()  # emptied when the server started
    start = healthz_count(scrape_over_http(port))
    sent = 0
    with ThreadPoolExecutor(16) as pool:  # requests at once, a connection each, until both workers answered some
        while len(writers(directory)) < 2 and sent < 4000:
            list(
                pool.map(
                    lambda _: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read(), range(200)
                )
            )
            sent += 200
    assert len(writers(directory)) == 2, "one worker answered everything"
    counts = {healthz_count(scrape_over_http(port)) - start for _ in range(10)}  # whichever worker answers
    assert counts == {sent}
    worker = next(iter(writers(directory)))
    os.kill(worker, signal.SIGTERM)  # gunicorn starts another; the counts it made stay in the sum
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and alive(worker):
        time.sleep(0.1)
    assert not alive(worker)
    wait_until_up(f"http://127.0.0.1:{port}")
    assert healthz_count(scrape_over_http(port)) - start == sent + 1  # wait_until_up's own /healthz


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def writers(directory) -> set[int]:
    """The processes that wrote counts (a file each)."""
    return {
        int(name.removesuffix(".db").rsplit("_", 1)[-1])
        for name in os.listdir(directory)
        if name.startswith("counter_")
    }


def test_a_workers_metrics_are_served_to_its_token_only():
    from referral.infra import metrics

    port = free_port()
    metrics.serve_in_background(port, "worker-token")
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 5
    while True:
        try:
            request = urllib.request.Request(url, headers={"Authorization": "Bearer worker-token"})
            text = urllib.request.urlopen(request, timeout=2).read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert "referral_sms_deliveries_total" in text and "referral_webhook_deliveries_total" in text
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=2)
    assert refused.value.code == 404


def test_every_metric_the_alerts_and_the_dashboard_name_is_exposed(client, monkeypatch):
    """deploy/ names only what the app exposes (a renamed metric would silence an alert)."""
    import json
    import re

    monkeypatch.setattr("referral.http.metrics.sms_queue_depth", lambda: 3)  # as with Redis
    text = client.get("/metrics").get_data(as_text=True)
    exposed = {family.name for family in text_string_to_metric_families(text)}
    exposed |= {name + "_total" for name in exposed}  # a counter's family is named without its _total
    deploy = ROOT / "deploy"
    rules = (deploy / "prometheus" / "alerts.yml").read_text()
    dashboard = json.loads((deploy / "grafana" / "dashboards" / "referral.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = set(re.findall(r"\breferral_[a-z_]+", rules + "\n".join(exprs)))
    named = {re.sub(r"_(bucket|count|sum)$", "", name) for name in named}
    assert named and named <= exposed, sorted(named - exposed)


@pytest.mark.committing
def test_two_workers_counts_and_gauges_of_sign_ups_are_summed(gunicorn):
    """Sign-ups answered by either worker: each counter sums to what was sent, the pools' gauges to both
    workers' pools, nothing left checked out."""
    port, _, directory = gunicorn
    url = f"http://127.0.0.1:{port}/api/v1/auth"

    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{url}/{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def sign_up(n: int) -> None:
        phone = f"+7916555{n:04d}"
        post("token", {"phone": phone, "code": post("code", {"phone": phone})["debug_code"]})

    sent = 0
    with ThreadPoolExecutor(8) as pool:  # at once, until both workers have answered some
        while len(writers(directory)) < 2 and sent < 400:
            list(pool.map(sign_up, range(sent, sent + 40)))
            sent += 40
    assert len(writers(directory)) == 2, "one worker answered everything"
    samples = scrape_over_http(port)
    assert value(samples, "referral_signups_total", invited="no") == sent
    assert value(samples, "referral_codes_verified_total", purpose="login") == sent
    assert value(samples, "referral_sms_requested_total", purpose="login") == sent
    assert value(samples, "referral_security_events_total", event="code_requested") == sent
    created = value(samples, "referral_http_requests_total", endpoint="/api/v1/auth/token", method="POST", status="201")
    assert created == sent
    assert value(samples, "referral_db_pool_wait_seconds_count") >= sent  # each sign-up's transaction waited
    assert value(samples, "referral_db_pool_connections_in_use") == 0
    assert value(samples, "referral_db_pool_size") == 2 * int(os.environ.get("DB_POOL_SIZE", "5"))

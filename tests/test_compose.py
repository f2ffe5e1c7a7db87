"""docker-compose.yml, read as Compose reads it: every service where it belongs (the file once put the webhooks
worker inside the app's depends_on, and nothing ran it)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_compose_file_parses_with_every_service_in_its_place():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("nginx", "app1", "app2", "sms-worker", "webhooks-worker", "migrate", "pgbouncer", "db", "redis"):
        assert name in services, name
    assert services["webhooks-worker"]["entrypoint"] == ["flask", "webhooks", "worker"]
    # what cron would run, as worker loops: the purge, the overview's roll-up, the qualification of due referrals
    assert services["maintenance"]["entrypoint"] == ["flask", "maintenance", "purge", "--every", "3600"]
    assert services["rollup"]["entrypoint"] == ["flask", "console", "rollup", "--every", "300"]
    assert services["qualify"]["entrypoint"] == ["flask", "referrals", "qualify-due", "--every", "600"]
    assert set(services["app1"]["depends_on"]) == {"migrate", "pgbouncer", "redis"}
    for worker in ("sms-worker", "webhooks-worker"):
        assert services[worker]["environment"]["DATABASE_URL"].startswith("postgresql://"), worker


def test_the_monitoring_profile_scrapes_what_the_workers_serve():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["prometheus"]["profiles"] == ["monitoring"] and services["grafana"]["profiles"] == ["monitoring"]
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target for job in scrape["scrape_configs"] for group in job["static_configs"] for target in group["targets"]
    }
    ports = {name: services[name]["environment"]["WORKER_METRICS_PORT"] for name in ("sms-worker", "webhooks-worker")}
    assert targets == {"app1:8000", "app2:8000"} | {f"{name}:{port}" for name, port in ports.items()}

"""Settings: read from the environment; production refuses to start when misconfigured."""

import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_config
from referral import create_app

ROOT = Path(__file__).resolve().parents[1]
GOOD_SECRET = "s" * 40
PROD_ENV = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://app:pw@db/referral",
    "SECRET_KEY": GOOD_SECRET,
    "JWT_SECRET_KEY": GOOD_SECRET,
    "SMS_BACKEND": "smsru",
    "SMSRU_API_ID": "test-api-id",
}


@pytest.fixture
def environ(monkeypatch):
    for name in (
        "APP_ENV",
        "DATABASE_URL",
        "SECRET_KEY",
        "JWT_SECRET_KEY",
        "OTP_DEBUG",
        "OTP_LENGTH",
        "SMS_BACKEND",
        "SMSRU_API_ID",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_FROM",
        "TEST_PHONE_NUMBERS",
        "WEBHOOK_URLS",
        "WEBHOOK_SECRET",
        "REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_defaults_match_the_contract(environ):
    config = load_config()
    assert (config.OTP_LENGTH, config.OTP_TTL_SECONDS, config.OTP_MAX_ATTEMPTS, config.OTP_RESEND_SECONDS) == (
        4,
        300,
        5,
        60,
    )
    assert (config.ACCESS_TOKEN_TTL_SECONDS, config.REFRESH_TOKEN_TTL_SECONDS) == (900, 2592000)
    assert config.DEFAULT_PHONE_REGION == "RU"
    assert config.SMS_BACKEND == "console" and config.SMS_DELAY_SECONDS == (1.0, 2.0)
    assert config.OTP_DEBUG is True
    assert config.RATELIMIT_ENABLED is True
    assert (config.HOST, config.PORT) == ("127.0.0.1", 5000)


def test_development_defaults_to_sqlite_in_the_instance_folder(environ):
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/referral.db")


def test_postgres_urls_are_driven_by_psycopg_3(environ):
    environ(DATABASE_URL="postgres://u:p@h/db")
    assert load_config().SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u:p@h/db"


def test_settings_are_read_from_the_environment(environ):
    environ(OTP_LENGTH="6", SMS_DELAY_SECONDS="0.5", OTP_DEBUG="false")
    config = load_config()
    assert config.OTP_LENGTH == 6
    assert config.SMS_DELAY_SECONDS == (0.5, 0.5)
    assert config.OTP_DEBUG is False


@pytest.mark.parametrize(
    "name, value",
    [
        ("OTP_LENGTH", "3"),
        ("OTP_LENGTH", "9"),
        ("OTP_LENGTH", "four"),
        ("OTP_DEBUG", "maybe"),
        ("SMS_DELAY_SECONDS", "2-1"),
        ("SMS_BACKEND", "pigeon"),
        ("APP_ENV", "staging"),
    ],
)
def test_nonsense_settings_are_refused(environ, name, value):
    environ(**{name: value})
    with pytest.raises(ConfigError):
        load_config()


def test_a_good_production_configuration_loads(environ):
    environ(**PROD_ENV)
    config = load_config()
    assert config.OTP_DEBUG is False


@pytest.mark.parametrize(
    "change, message",
    [
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"JWT_SECRET_KEY": ""}, "JWT_SECRET_KEY"),
        ({"OTP_DEBUG": "true"}, "OTP_DEBUG"),
        ({"SMS_BACKEND": "console"}, "SMS_BACKEND=console"),
        ({"SMS_BACKEND": "memory"}, "SMS_BACKEND=memory"),
        ({"SMSRU_API_ID": ""}, "SMSRU_API_ID"),
        ({"TEST_PHONE_NUMBERS": "+79990000001:1234"}, "TEST_PHONE_NUMBERS_IN_PRODUCTION"),
        ({"WEBHOOK_URLS": "http://a.example/hook", "WEBHOOK_SECRET": "whsec_" + "A" * 40}, "https in production"),
    ],
)
def test_production_refuses_a_bad_configuration(environ, change, message):
    environ(**(PROD_ENV | change))
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_production_may_allow_test_numbers_on_purpose(environ):
    environ(**PROD_ENV, TEST_PHONE_NUMBERS="+79990000001:1234", TEST_PHONE_NUMBERS_IN_PRODUCTION="true")
    assert load_config().TEST_PHONE_NUMBERS == {"+79990000001": "1234"}


@pytest.mark.parametrize("value", ["79990000001:1234", "+79990000001", "+79990000001:12", "+79990000001:abcd"])
def test_malformed_test_numbers_are_refused(environ, value):
    environ(TEST_PHONE_NUMBERS=value)
    with pytest.raises(ConfigError, match="TEST_PHONE_NUMBERS"):
        load_config()


@pytest.mark.parametrize(
    "backend, needs",
    [("twilio", "TWILIO_ACCOUNT_SID"), ("smsru", "SMSRU_API_ID"), ("exolve", "EXOLVE_API_KEY")],
)
def test_a_gateway_backend_needs_its_credentials(environ, backend, needs):
    environ(SMS_BACKEND=backend)
    with pytest.raises(ConfigError, match=needs):
        load_config()


def test_production_refuses_to_start_with_one_clear_line(environ):
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "production", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ConfigError" in result.stderr
    assert "must be set to at least 32 bytes in production" in result.stderr


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"WEBHOOK_URLS": "https://a.example/hook"}, "WEBHOOK_URLS needs WEBHOOK_SECRET"),
        ({"WEBHOOK_URLS": "https://a.example/hook|user.created,user.exploded"}, "unknown event types user.exploded"),
        ({"WEBHOOK_URLS": "ftp://a.example/hook", "WEBHOOK_SECRET": "whsec_" + "A" * 40}, "http"),
        ({"WEBHOOK_URLS": "https://a.example/hook", "WEBHOOK_SECRET": "whsec_%%%"}, "base64"),
        ({"WEBHOOK_URLS": "https://a.example/hook", "WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "at least 24 bytes"),
    ],
)
def test_webhook_settings_that_cannot_work_are_refused(environ, settings, message):
    environ(**settings)
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_webhook_endpoints_name_the_events_they_want(environ):
    environ(
        WEBHOOK_URLS="https://a.example/hook https://crm.example/in|referral.activated",
        WEBHOOK_SECRET="whsec_" + "A" * 40,
    )
    config = load_config()
    assert config.WEBHOOK_URLS[0] == (
        "https://a.example/hook",
        (
            "user.created",
            "referral.activated",
            "user.phone_changed",
            "user.deleted",
            "referral.revoked",
            "referral.qualified",
            "referral.held",
            "referral.voided",
            "reward.earned",
            "reward.cancelled",
            "reward.fulfilled",
        ),
    )
    assert config.WEBHOOK_URLS[1] == ("https://crm.example/in", ("referral.activated",))


def test_every_bad_setting_is_reported_at_once(environ):
    environ(OTP_LENGTH="four", OTP_DEBUG="maybe", SMS_DELAY_SECONDS="2-1", WEBHOOK_URLS="https://a.example/hook")
    with pytest.raises(ConfigError) as refused:
        load_config()
    message = str(refused.value)
    for name in ("OTP_LENGTH", "OTP_DEBUG", "SMS_DELAY_SECONDS", "WEBHOOK_URLS needs WEBHOOK_SECRET"):
        assert name in message
    assert "\n" not in message  # one line for the operator


def test_an_empty_flag_is_false_and_an_empty_number_is_its_default(environ):
    environ(OTP_DEBUG="", RATELIMIT_ENABLED="", OTP_LENGTH="", SMS_DELAY_SECONDS="1")
    config = load_config()
    assert (config.OTP_DEBUG, config.RATELIMIT_ENABLED, config.OTP_LENGTH) == (False, False, 4)

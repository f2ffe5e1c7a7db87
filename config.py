"""Settings, read from the environment in one place (environs, on marshmallow).

Every setting of ``../shared/API.md`` is an environment variable with the same name as its config key, declared
once below with its type, default and check. ``APP_ENV`` (development, testing, production) changes a few
defaults; every bad variable and every production cross-check that fails is reported at once, in one line.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from environs import Env, EnvValidationError
from marshmallow.validate import OneOf, Range

from referral.setting_kinds import WEBHOOK_EVENT_TYPES, environment

__all__ = ["WEBHOOK_EVENT_TYPES", "Config", "ConfigError", "load_config", "normalise_database_url"]

ENVIRONMENTS = ("development", "testing", "production")
# Each SMS backend, with the settings it cannot work without.
SMS_BACKENDS: dict[str, tuple[str, ...]] = {
    "console": (),
    "memory": (),
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"),
    "smsru": ("SMSRU_API_ID",),
    "exolve": ("EXOLVE_API_KEY", "EXOLVE_FROM"),
}


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message is one line for the operator, naming every one."""


class Config:
    """The settings of one process: upper-case attributes, as Flask's config takes them."""

    def __init__(self, **settings: Any) -> None:
        self.__dict__.update(settings)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_settings(env: Env, app_env: str) -> dict[str, Any]:
    """Every setting, one line each: name, type, default, check."""
    production, testing = app_env == "production", app_env == "testing"
    at_least_1, not_negative = Range(min=1), Range(min=0)
    redis_url = env.text("REDIS_URL", "") or None
    settings: dict[str, Any] = dict(
        APP_ENV=app_env,
        SECRET_KEY=env.text("SECRET_KEY", "") or secrets.token_urlsafe(48),
        JWT_SECRET_KEY=env.text("JWT_SECRET_KEY", "") or secrets.token_urlsafe(48),
        # None means "the SQLite file in the instance folder", resolved by the app factory.
        SQLALCHEMY_DATABASE_URI=normalise_database_url(env.text("DATABASE_URL", "")),
        # The hot reads of API GETs go to a replica when set (infra/reads.py); writes stay on DATABASE_URL.
        DATABASE_REPLICA_URL=normalise_database_url(env.text("DATABASE_REPLICA_URL", "")),
        # The ORM's pool and the hot reads' pool each hold up to this many connections per process.
        DB_POOL_SIZE=env.whole("DB_POOL_SIZE", 5, validate=at_least_1),
        DB_MAX_OVERFLOW=env.whole("DB_MAX_OVERFLOW", 5, validate=not_negative),
        DB_POOL_RECYCLE_SECONDS=env.whole("DB_POOL_RECYCLE_SECONDS", 1800),
        # How long a request waits for a pooled or a new connection before it is answered 503.
        DB_POOL_TIMEOUT_SECONDS=env.whole("DB_POOL_TIMEOUT_SECONDS", 3, validate=at_least_1),
        DB_CONNECT_TIMEOUT_SECONDS=env.whole("DB_CONNECT_TIMEOUT_SECONDS", 3, validate=at_least_1),
        # The longest a statement of a request may run (migrations and bulk commands lift it).
        DB_STATEMENT_TIMEOUT_MS=env.whole("DB_STATEMENT_TIMEOUT_MS", 5000, validate=at_least_1),
        # psycopg prepares a statement on the server from its Nth run; "off" behind PgBouncer 1.18.
        DB_PREPARE_THRESHOLD=env.threshold("DB_PREPARE_THRESHOLD", 5),
        # API GETs read outside a transaction on PostgreSQL; the test suite's rolled-back transactions cannot.
        DB_AUTOCOMMIT_READS=env.flag("DB_AUTOCOMMIT_READS", not testing),
        OTP_LENGTH=env.whole("OTP_LENGTH", 4, validate=Range(min=4, max=8)),
        OTP_TTL_SECONDS=env.whole("OTP_TTL_SECONDS", 300, validate=at_least_1),
        OTP_MAX_ATTEMPTS=env.whole("OTP_MAX_ATTEMPTS", 5, validate=at_least_1),
        OTP_RESEND_SECONDS=env.whole("OTP_RESEND_SECONDS", 60, validate=not_negative),
        OTP_DEBUG=env.flag("OTP_DEBUG", not production),
        OTP_MAX_SENDS_PER_HOUR=env.whole("OTP_MAX_SENDS_PER_HOUR", 5, validate=at_least_1),
        OTP_MAX_SENDS_PER_DAY=env.whole("OTP_MAX_SENDS_PER_DAY", 10, validate=at_least_1),
        OTP_LOCKOUT_FAILURES=env.whole("OTP_LOCKOUT_FAILURES", 10, validate=at_least_1),
        OTP_LOCKOUT_SECONDS=env.whole("OTP_LOCKOUT_SECONDS", 3600, validate=at_least_1),
        SMS_ALLOWED_REGIONS=env.regions("SMS_ALLOWED_REGIONS", ["RU"]),
        TEST_PHONE_NUMBERS=env.test_numbers("TEST_PHONE_NUMBERS", {}),
        TEST_PHONE_NUMBERS_IN_PRODUCTION=env.flag("TEST_PHONE_NUMBERS_IN_PRODUCTION", False),
        SMS_BACKEND=env.word("SMS_BACKEND", "console", validate=OneOf(SMS_BACKENDS)),
        SMS_DELAY_SECONDS=env.delay("SMS_DELAY_SECONDS", (1.0, 2.0)),
        SMS_QUEUE_SIZE=env.whole("SMS_QUEUE_SIZE", 10_000, validate=at_least_1),
        SMS_WORKERS=env.whole("SMS_WORKERS", 16, validate=at_least_1),
        SMS_TIMEOUT_SECONDS=env.whole("SMS_TIMEOUT_SECONDS", 10, validate=at_least_1),
        # The site's host for the SMS's last line "@host #code" (WebOTP: browsers fill the code in); unset: none.
        SMS_WEBOTP_HOST=env.text("SMS_WEBOTP_HOST", ""),
        # An Android app's SMS Retriever hash (11 characters) to end the message with; unset: none.
        SMS_APP_HASH=env.text("SMS_APP_HASH", ""),
        TWILIO_ACCOUNT_SID=env.text("TWILIO_ACCOUNT_SID", ""),
        TWILIO_AUTH_TOKEN=env.text("TWILIO_AUTH_TOKEN", ""),
        TWILIO_FROM=env.text("TWILIO_FROM", ""),  # a number, or a Messaging Service SID (MG...)
        TWILIO_BASE_URL=env.text("TWILIO_BASE_URL", "https://api.twilio.com"),
        SMSRU_API_ID=env.text("SMSRU_API_ID", ""),
        SMSRU_FROM=env.text("SMSRU_FROM", "") or None,
        SMSRU_BASE_URL=env.text("SMSRU_BASE_URL", "https://sms.ru"),
        EXOLVE_API_KEY=env.text("EXOLVE_API_KEY", ""),  # the application's API key (bearer token)
        EXOLVE_FROM=env.text("EXOLVE_FROM", ""),  # the sender number bought in Exolve, e.g. 79991112233
        EXOLVE_BASE_URL=env.text("EXOLVE_BASE_URL", "https://api.exolve.ru"),
        # Webhook endpoints with the events each wants; secrets newest first (each delivery is signed with all).
        WEBHOOK_URLS=env.webhook_urls("WEBHOOK_URLS", []),
        WEBHOOK_SECRET=env.webhook_secrets("WEBHOOK_SECRET", []),
        WEBHOOK_TIMEOUT_SECONDS=env.whole("WEBHOOK_TIMEOUT_SECONDS", 5, validate=at_least_1),
        # Production refuses loopback, private and link-local webhook addresses unless this says otherwise.
        WEBHOOK_ALLOW_PRIVATE_ADDRESSES=env.flag("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", not production),
        # Who delivers: "threads" in each app process, or "worker" (only `flask webhooks worker` processes).
        WEBHOOK_DELIVERY=env.word(
            "WEBHOOK_DELIVERY", "worker" if redis_url else "threads", validate=OneOf(["threads", "worker"])
        ),
        WEBHOOK_POLL_SECONDS=env.whole("WEBHOOK_POLL_SECONDS", 1, validate=at_least_1),
        # Finished deliveries (with their attempts) and their events are kept this long (`flask maintenance purge`).
        WEBHOOK_RETENTION_DAYS=env.whole("WEBHOOK_RETENTION_DAYS", 30, validate=at_least_1),
        ACCESS_TOKEN_TTL_SECONDS=env.whole("ACCESS_TOKEN_TTL_SECONDS", 900, validate=at_least_1),
        REFRESH_TOKEN_TTL_SECONDS=env.whole("REFRESH_TOKEN_TTL_SECONDS", 2_592_000, validate=at_least_1),
        # Verified access tokens each process keeps with their claims (about 1 KiB each); 0 turns it off.
        TOKEN_CACHE_SIZE=env.whole("TOKEN_CACHE_SIZE", 4096, validate=not_negative),
        # The staff console's sessions: ended after this long without a request, and this long after sign-in.
        CONSOLE_IDLE_SECONDS=env.whole("CONSOLE_IDLE_SECONDS", 1800, validate=at_least_1),
        CONSOLE_LIFETIME_SECONDS=env.whole("CONSOLE_LIFETIME_SECONDS", 28_800, validate=at_least_1),
        # What makes a referral qualify (and earn its rewards): immediate, after_days:N or on_event.
        QUALIFY_REFERRALS=env.qualification("QUALIFY_REFERRALS", ("immediate", 0)),
        # The fraud rules that hold a referral for review (domain/fraud.py); 0 turns a rule off.
        FRAUD_SHARED_DEVICE_DAYS=env.whole("FRAUD_SHARED_DEVICE_DAYS", 30, validate=not_negative),
        FRAUD_SHARED_NETWORK_DAYS=env.whole("FRAUD_SHARED_NETWORK_DAYS", 1, validate=not_negative),
        FRAUD_REFERRALS_PER_HOUR=env.whole("FRAUD_REFERRALS_PER_HOUR", 60, validate=not_negative),
        FRAUD_SEQUENCE_GAP=env.whole("FRAUD_SEQUENCE_GAP", 3, validate=not_negative),
        FRAUD_PREFIX_MATCHES=env.whole("FRAUD_PREFIX_MATCHES", 4, validate=not_negative),
        FRAUD_PREFIX_TAIL=env.whole("FRAUD_PREFIX_TAIL", 2, validate=Range(min=1, max=6)),
        FRAUD_MOBILE_ONLY=env.flag("FRAUD_MOBILE_ONLY", True),
        FRAUD_VIRTUAL_PREFIXES=env.prefixes("FRAUD_VIRTUAL_PREFIXES", ()),
        # Footprints (network, user agent hash, device id) and decided holds' evidence are deleted after this.
        FRAUD_SIGNALS_DAYS=env.whole("FRAUD_SIGNALS_DAYS", 90, validate=at_least_1),
        # The programme's server-to-server API, per key.
        RATELIMIT_PROGRAMME_API=env.text("RATELIMIT_PROGRAMME_API", "600 per minute;20000 per hour"),
        DEFAULT_PHONE_REGION=(env.text("DEFAULT_PHONE_REGION", "") or "RU").upper(),
        REDIS_URL=redis_url,
        # Flask-Limiter reads the RATELIMIT_* keys itself; the per-phone caps read RATELIMIT_ENABLED too.
        RATELIMIT_ENABLED=env.flag("RATELIMIT_ENABLED", True),
        RATELIMIT_STORAGE_URI=redis_url or "memory://",
        # A Redis that hangs must not hold a request: after a second the limits fall back to process memory.
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {},
        RATELIMIT_KEY_PREFIX=env.text("RATELIMIT_KEY_PREFIX", "") or "referral",
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,  # Redis down: limit per process rather than not at all
        # A deduction after the answer (deduct_when) that meets Redis going down is logged and lost, not a 500
        # for a request whose work is done (the fault suite once saw a code sent and its answer a 500).
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_HEADERS_ENABLED=False,  # problems.py sets Retry-After on the 429 itself
        RATELIMIT_AUTH_CODE=env.text("RATELIMIT_AUTH_CODE", "5 per minute;30 per hour;100 per day"),
        RATELIMIT_AUTH_TOKEN=env.text("RATELIMIT_AUTH_TOKEN", "20 per minute;200 per hour;1000 per day"),
        TRUSTED_PROXIES=env.whole("TRUSTED_PROXIES", 0, validate=not_negative),
        # GET /metrics (Prometheus): answered to `Authorization: Bearer <METRICS_TOKEN>`, or without a token set
        # only to a loopback peer; nginx refuses the path from the public either way.
        METRICS_TOKEN=env.text("METRICS_TOKEN", ""),
        # `flask sms worker` and `flask webhooks worker` serve their own /metrics on this port (0: they do not).
        WORKER_METRICS_PORT=env.whole("WORKER_METRICS_PORT", 0, validate=Range(min=0, max=65535)),
        HOST=env.text("HOST", "127.0.0.1"),
        PORT=env.whole("PORT", 5000),
        MAX_CONTENT_LENGTH=16 * 1024,  # bodies of this API are a few hundred bytes; near this is abuse (413)
        LOG_LEVEL=(env.text("LOG_LEVEL", "") or "INFO").upper(),
        LOG_FORMAT=env.word(
            "LOG_FORMAT", "text" if app_env == "development" else "json", validate=OneOf(["json", "text"])
        ),
        # The pages' cookies (web/): Flask's signed session (CSRF token, a sign-in in progress) and the tokens.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=production,
        BABEL_DEFAULT_LOCALE="en",
        JWT_TOKEN_LOCATION=["headers"],  # flask-jwt-extended: bearer header only
        JWT_ALGORITHM="HS256",
        # flask-smorest: the OpenAPI document at /openapi.json, Swagger UI at /docs.
        API_TITLE="referral",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
    )
    settings["SQLALCHEMY_ENGINE_OPTIONS"] = {
        # No pre-ping: it costs a round trip per request; a connection that died fails one request with a 503.
        "pool_size": settings["DB_POOL_SIZE"],
        "max_overflow": settings["DB_MAX_OVERFLOW"],
        "pool_recycle": settings["DB_POOL_RECYCLE_SECONDS"],
        "pool_timeout": settings["DB_POOL_TIMEOUT_SECONDS"],
    }
    if testing:
        # The tests deliver SMS in-process and webhooks by calling the delivery pass themselves.
        settings.update(TESTING=True, SMS_BACKEND="memory", SMS_DELAY_SECONDS=(0.0, 0.0), WEBHOOK_DELIVERY="worker")
    return settings


def cross_checks(settings: dict[str, Any]) -> list[str]:
    """What no single variable shows wrong: a backend without its credentials, and production's rules."""
    problems = [
        f"SMS_BACKEND={settings['SMS_BACKEND']} needs {name}"
        for name in SMS_BACKENDS.get(settings["SMS_BACKEND"], ())
        if not settings[name]
    ]
    if settings["WEBHOOK_URLS"] and not settings["WEBHOOK_SECRET"]:
        problems.append("WEBHOOK_URLS needs WEBHOOK_SECRET to sign the deliveries")
    if settings["APP_ENV"] != "production":
        return problems
    problems += [
        f"{name} must be set to at least 32 bytes in production"
        for name in ("SECRET_KEY", "JWT_SECRET_KEY")
        if len(os.environ.get(name, "").strip().encode()) < 32
    ]
    if not (settings["SQLALCHEMY_DATABASE_URI"] or "").startswith("postgresql"):
        problems.append("DATABASE_URL must be a PostgreSQL URL (postgresql+psycopg://...) in production")
    if settings["OTP_DEBUG"]:
        problems.append("OTP_DEBUG must be off in production: it would hand out login codes")
    if settings["SMS_BACKEND"] in {"memory", "console"}:
        problems.append(
            f"SMS_BACKEND={settings['SMS_BACKEND']} delivers nothing (and console logs the codes); "
            "use twilio, smsru or exolve in production"
        )
    problems += [
        f"WEBHOOK_URLS must be https in production: {url}"
        for url, _ in settings["WEBHOOK_URLS"]
        if not url.startswith("https://")
    ][:1]
    if settings["TEST_PHONE_NUMBERS"] and not settings["TEST_PHONE_NUMBERS_IN_PRODUCTION"]:
        problems.append(
            "TEST_PHONE_NUMBERS sign in with fixed codes; in production set TEST_PHONE_NUMBERS_IN_PRODUCTION=true "
            "to allow them on purpose"
        )
    return problems


def normalise_database_url(url: str | None) -> str | None:
    """Accept the ``postgres://`` and ``postgresql://`` forms hosting providers hand out; drive them with psycopg 3."""
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(app_env: str | None = None) -> Config:
    """The settings for ``APP_ENV`` (or the name given); a ``ConfigError`` naming everything that is wrong."""
    name = (app_env or os.environ.get("APP_ENV", "").strip() or "development").lower()
    if name not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}")
    env = environment()
    settings = read_settings(env, name)
    problems: list[str] = []
    try:
        env.seal()
    except EnvValidationError as error:
        by_variable: Any = error.error_messages  # {name: [message, ...]}
        problems = [f"{key}: {' '.join(map(str, messages))}" for key, messages in by_variable.items()]
    problems += cross_checks(settings)  # a variable found bad above is None here, and passes these
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(**settings)

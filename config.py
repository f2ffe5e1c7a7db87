"""Settings, read from the environment in one place.

Every setting of ``../shared/API.md`` is an environment variable with the same name as its config key.
``Development``, ``Testing`` and ``Production`` differ only in defaults; ``Production.validate`` makes a
misconfigured production process refuse to start with one clear line.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from typing import Any, ClassVar

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message is one line for the operator."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value.strip()


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def env_delay(name: str, default: tuple[float, float]) -> tuple[float, float]:
    """A delay in seconds, written ``1.5`` or as a range ``1-2``."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    low, _, high = raw.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise ConfigError(f"{name} must be seconds like 1.5 or a range like 1-2, not {raw!r}") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise ConfigError(f"{name} must be a non-negative range low-high, not {raw!r}")
    return bounds


def env_list(name: str, default: list[str]) -> list[str]:
    """Comma-separated words, upper-cased (region codes)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [word.strip().upper() for word in raw.split(",") if word.strip()]


def env_threshold(name: str, default: int) -> int | None:
    """A whole number, or ``off`` for none."""
    raw = os.environ.get(name)
    if raw is not None and raw.strip().lower() in {"off", "none", "never"}:
        return None
    return env_int(name, default)


TEST_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}:[0-9]{4,8}$")


def env_test_numbers(name: str) -> dict[str, str]:
    """``+79990000001:1234,+79990000002:5678`` as ``{phone: code}``; phones in E.164."""
    raw = os.environ.get(name, "")
    numbers: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in raw.split(","))):
        if not TEST_NUMBER.match(pair):
            raise ConfigError(f"{name} takes +E164:digits pairs separated by commas, not {pair!r}")
        phone, code = pair.split(":")
        numbers[phone] = code
    return numbers


WEBHOOK_EVENT_TYPES = ("user.created", "referral.activated", "user.phone_changed", "user.deleted")


def env_webhook_urls(name: str) -> list[tuple[str, tuple[str, ...]]]:
    """``URL`` or ``URL|type,type`` entries separated by white space: each endpoint with the event types it
    wants (all of them when none are named)."""
    endpoints = []
    for entry in (os.environ.get(name) or "").split():
        url, _, wanted = entry.partition("|")
        types = tuple(filter(None, (word.strip() for word in wanted.split(",")))) or WEBHOOK_EVENT_TYPES
        unknown = set(types) - set(WEBHOOK_EVENT_TYPES)
        if unknown:
            raise ConfigError(f"{name}: unknown event types {', '.join(sorted(unknown))} for {url}")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{name} takes http(s) URLs, not {url!r}")
        endpoints.append((url, types))
    return endpoints


def env_secrets(name: str) -> list[str]:
    """Comma-separated Standard Webhooks secrets (``whsec_`` and base64), the newest first."""
    secrets_ = [word.strip() for word in (os.environ.get(name) or "").split(",") if word.strip()]
    for secret in secrets_:
        try:
            encoded = secret.removeprefix("whsec_").rstrip("=")
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{name}: each secret is whsec_ followed by base64") from None
        if len(key) < 24:
            raise ConfigError(f"{name}: a secret must hold at least 24 bytes")
    return secrets_


# Each backend, with the settings it cannot work without.
SMS_BACKENDS: dict[str, tuple[str, ...]] = {
    "console": (),
    "memory": (),
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"),
    "smsru": ("SMSRU_API_ID",),
    "exolve": ("EXOLVE_API_KEY", "EXOLVE_FROM"),
}


class Config:
    """Defaults shared by every environment."""

    APP_ENV: ClassVar[str] = "development"

    def __init__(self) -> None:
        self.SECRET_KEY = env_str("SECRET_KEY") or secrets.token_urlsafe(48)
        self.JWT_SECRET_KEY = env_str("JWT_SECRET_KEY") or secrets.token_urlsafe(48)
        # None means "the SQLite file in the instance folder", resolved by the app factory.
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(env_str("DATABASE_URL"))
        # A read replica for the hot reads of API GETs (infra/reads.py); writes, and reads inside them, stay on
        # DATABASE_URL. A session revoked on the primary stops working once the replica has replayed it.
        self.DATABASE_REPLICA_URL = normalise_database_url(env_str("DATABASE_REPLICA_URL"))
        # No pre-ping: it costs a round trip per request. Connections are recycled before servers or proxies
        # drop idle ones; a connection that died anyway fails one request with a 503 and leaves the pool.
        # The ORM's pool and the hot reads' pool (infra/reads.py) each hold up to DB_POOL_SIZE connections
        # per process (the ORM's DB_MAX_OVERFLOW more under bursts).
        self.DB_POOL_SIZE = env_int("DB_POOL_SIZE", 5)
        self.DB_POOL_RECYCLE_SECONDS = env_int("DB_POOL_RECYCLE_SECONDS", 1800)
        # How long a request waits for a pooled connection, and for a new connection to open, before it is
        # answered 503 (a database that is down or stuck must not hold requests for gunicorn's 30 s).
        self.DB_POOL_TIMEOUT_SECONDS = env_int("DB_POOL_TIMEOUT_SECONDS", 3)
        self.DB_CONNECT_TIMEOUT_SECONDS = env_int("DB_CONNECT_TIMEOUT_SECONDS", 3)
        # The longest a statement of a request may run on the server (migrations and bulk commands lift it).
        self.DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 5000)
        # psycopg prepares a statement on the server from its Nth run on a connection; "off" never does
        # (behind a transaction-pooling PgBouncer without max_prepared_statements).
        self.DB_PREPARE_THRESHOLD = env_threshold("DB_PREPARE_THRESHOLD", 5)
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {
            "pool_size": self.DB_POOL_SIZE,
            "max_overflow": env_int("DB_MAX_OVERFLOW", 5),
            "pool_recycle": self.DB_POOL_RECYCLE_SECONDS,
            "pool_timeout": self.DB_POOL_TIMEOUT_SECONDS,
        }

        # API GETs read outside a transaction on PostgreSQL (infra/reads.py); the test suite's
        # rolled-back transactions cannot have it, so Testing turns it off and the committing tests turn it on.
        self.DB_AUTOCOMMIT_READS = env_bool("DB_AUTOCOMMIT_READS", self.APP_ENV != "testing")
        self.OTP_LENGTH = env_int("OTP_LENGTH", 4)
        self.OTP_TTL_SECONDS = env_int("OTP_TTL_SECONDS", 300)
        self.OTP_MAX_ATTEMPTS = env_int("OTP_MAX_ATTEMPTS", 5)
        self.OTP_RESEND_SECONDS = env_int("OTP_RESEND_SECONDS", 60)
        self.OTP_DEBUG = env_bool("OTP_DEBUG", self.APP_ENV != "production")
        self.OTP_MAX_SENDS_PER_HOUR = env_int("OTP_MAX_SENDS_PER_HOUR", 5)
        self.OTP_MAX_SENDS_PER_DAY = env_int("OTP_MAX_SENDS_PER_DAY", 10)
        self.OTP_LOCKOUT_FAILURES = env_int("OTP_LOCKOUT_FAILURES", 10)
        self.OTP_LOCKOUT_SECONDS = env_int("OTP_LOCKOUT_SECONDS", 3600)
        self.SMS_ALLOWED_REGIONS = env_list("SMS_ALLOWED_REGIONS", ["RU"])
        self.TEST_PHONE_NUMBERS = env_test_numbers("TEST_PHONE_NUMBERS")
        self.TEST_PHONE_NUMBERS_IN_PRODUCTION = env_bool("TEST_PHONE_NUMBERS_IN_PRODUCTION", False)

        self.SMS_BACKEND = (env_str("SMS_BACKEND", "console") or "console").lower()
        self.SMS_DELAY_SECONDS = env_delay("SMS_DELAY_SECONDS", (1.0, 2.0))
        self.SMS_QUEUE_SIZE = env_int("SMS_QUEUE_SIZE", 10_000)
        self.SMS_WORKERS = env_int("SMS_WORKERS", 16)
        self.SMS_TIMEOUT_SECONDS = env_int("SMS_TIMEOUT_SECONDS", 10)
        self.TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
        self.TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
        self.TWILIO_FROM = env_str("TWILIO_FROM", "")  # a number, or a Messaging Service SID (MG...)
        self.TWILIO_BASE_URL = env_str("TWILIO_BASE_URL", "https://api.twilio.com")
        self.SMSRU_API_ID = env_str("SMSRU_API_ID", "")
        self.SMSRU_FROM = env_str("SMSRU_FROM") or None
        self.SMSRU_BASE_URL = env_str("SMSRU_BASE_URL", "https://sms.ru")
        self.EXOLVE_API_KEY = env_str("EXOLVE_API_KEY", "")  # the application's API key (bearer token)
        self.EXOLVE_FROM = env_str("EXOLVE_FROM", "")  # the sender number bought in Exolve, e.g. 79991112233
        self.EXOLVE_BASE_URL = env_str("EXOLVE_BASE_URL", "https://api.exolve.ru")

        # Webhooks (infra/webhooks.py): the endpoints with the events each wants, the signing secrets (the
        # newest first; each delivery is signed with every one of them, so a rotation has no gap).
        self.WEBHOOK_URLS = env_webhook_urls("WEBHOOK_URLS")
        self.WEBHOOK_SECRET = env_secrets("WEBHOOK_SECRET")
        self.WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
        # A webhook URL must not become a way into the internal network: production refuses loopback,
        # private and link-local addresses unless this says otherwise.
        self.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", self.APP_ENV != "production")
        # Who delivers: "threads" in each app process, or "worker" (only `flask webhooks worker` processes).
        self.WEBHOOK_DELIVERY = (
            env_str("WEBHOOK_DELIVERY") or ("worker" if env_str("REDIS_URL") else "threads")
        ).lower()
        self.WEBHOOK_POLL_SECONDS = env_int("WEBHOOK_POLL_SECONDS", 1)

        self.ACCESS_TOKEN_TTL_SECONDS = env_int("ACCESS_TOKEN_TTL_SECONDS", 900)
        self.REFRESH_TOKEN_TTL_SECONDS = env_int("REFRESH_TOKEN_TTL_SECONDS", 2_592_000)
        # Verified access tokens each process keeps, with their claims (infra/tokens.py): about 1 KiB each;
        # 0 turns it off.
        self.TOKEN_CACHE_SIZE = env_int("TOKEN_CACHE_SIZE", 4096)
        self.DEFAULT_PHONE_REGION = (env_str("DEFAULT_PHONE_REGION", "RU") or "RU").upper()
        self.REDIS_URL = env_str("REDIS_URL") or None
        # Flask-Limiter reads the RATELIMIT_* keys itself; the per-phone caps read RATELIMIT_ENABLED too.
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # A Redis that hangs must not hold a request: after a second the limits fall back to this process's memory.
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1} if self.REDIS_URL else {}
        self.RATELIMIT_KEY_PREFIX = env_str("RATELIMIT_KEY_PREFIX", "referral") or "referral"
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True  # Redis down: limit per process rather than not at all
        self.RATELIMIT_HEADERS_ENABLED = False  # errors.py sets Retry-After on the 429 itself
        self.RATELIMIT_AUTH_CODE = env_str("RATELIMIT_AUTH_CODE", "5 per minute;30 per hour;100 per day")
        self.RATELIMIT_AUTH_TOKEN = env_str("RATELIMIT_AUTH_TOKEN", "20 per minute;200 per hour;1000 per day")
        self.TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
        self.HOST = env_str("HOST", "127.0.0.1")
        self.PORT = env_int("PORT", 5000)

        # Bodies of this API are a few hundred bytes; anything near this is abuse (413).
        self.MAX_CONTENT_LENGTH = 16 * 1024
        self.LOG_LEVEL = (env_str("LOG_LEVEL", "INFO") or "INFO").upper()
        self.LOG_FORMAT = (env_str("LOG_FORMAT") or ("text" if self.APP_ENV == "development" else "json")).lower()

        # The pages' cookies (web/): Flask's signed session (CSRF token, a sign-in in progress) and the tokens.
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SECURE = self.APP_ENV == "production"
        self.BABEL_DEFAULT_LOCALE = "en"

        # flask-jwt-extended: bearer header only, lifetimes from our own settings.
        self.JWT_TOKEN_LOCATION = ["headers"]
        self.JWT_ALGORITHM = "HS256"

        # flask-smorest: the OpenAPI document at /openapi.json, Swagger UI at /docs.
        self.API_TITLE = "referral"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        self.OPENAPI_SWAGGER_UI_URL = "/docs/assets/"

    def validate(self) -> None:
        """Refuse settings that cannot work anywhere."""
        if not 4 <= self.OTP_LENGTH <= 8:
            raise ConfigError("OTP_LENGTH must be between 4 and 8")
        for name in ("OTP_TTL_SECONDS", "OTP_MAX_ATTEMPTS", "ACCESS_TOKEN_TTL_SECONDS", "REFRESH_TOKEN_TTL_SECONDS"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.LOG_FORMAT not in {"json", "text"}:
            raise ConfigError(f"LOG_FORMAT must be json or text, not {self.LOG_FORMAT!r}")
        if self.OTP_RESEND_SECONDS < 0:
            raise ConfigError("OTP_RESEND_SECONDS must not be negative")
        for name in ("OTP_MAX_SENDS_PER_HOUR", "OTP_MAX_SENDS_PER_DAY", "OTP_LOCKOUT_FAILURES", "OTP_LOCKOUT_SECONDS"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in (
            "DB_POOL_SIZE",
            "DB_POOL_TIMEOUT_SECONDS",
            "DB_CONNECT_TIMEOUT_SECONDS",
            "DB_STATEMENT_TIMEOUT_MS",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in ("TRUSTED_PROXIES", "TOKEN_CACHE_SIZE"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")
        if self.SMS_BACKEND not in SMS_BACKENDS:
            raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, not {self.SMS_BACKEND!r}")
        for name in SMS_BACKENDS[self.SMS_BACKEND]:
            if not getattr(self, name):
                raise ConfigError(f"SMS_BACKEND={self.SMS_BACKEND} needs {name}")
        if self.WEBHOOK_URLS and not self.WEBHOOK_SECRET:
            raise ConfigError("WEBHOOK_URLS needs WEBHOOK_SECRET to sign the deliveries")
        if self.WEBHOOK_DELIVERY not in {"threads", "worker"}:
            raise ConfigError(f"WEBHOOK_DELIVERY must be threads or worker, not {self.WEBHOOK_DELIVERY!r}")
        if self.WEBHOOK_TIMEOUT_SECONDS < 1 or self.WEBHOOK_POLL_SECONDS < 1:
            raise ConfigError("WEBHOOK_TIMEOUT_SECONDS and WEBHOOK_POLL_SECONDS must be at least 1")
        if self.SMS_WORKERS < 1 or self.SMS_QUEUE_SIZE < 1 or self.SMS_TIMEOUT_SECONDS < 1:
            raise ConfigError("SMS_WORKERS, SMS_QUEUE_SIZE and SMS_TIMEOUT_SECONDS must be at least 1")

    def as_dict(self) -> dict[str, Any]:
        names = {name for name in dir(self) if name.isupper()}
        return {name: getattr(self, name) for name in names}


class Development(Config):
    APP_ENV = "development"


class Testing(Config):
    APP_ENV = "testing"

    def __init__(self) -> None:
        super().__init__()
        self.TESTING = True
        self.SMS_BACKEND = "memory"
        self.SMS_DELAY_SECONDS = (0.0, 0.0)
        self.WEBHOOK_DELIVERY = "worker"  # the tests deliver by calling the delivery pass themselves


class Production(Config):
    APP_ENV = "production"

    def validate(self) -> None:
        super().validate()
        for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
            value = os.environ.get(name, "")
            if len(value.encode()) < 32:
                raise ConfigError(f"{name} must be set to at least 32 bytes in production")
        if not (self.SQLALCHEMY_DATABASE_URI or "").startswith("postgresql"):
            raise ConfigError("DATABASE_URL must be a PostgreSQL URL (postgresql+psycopg://...) in production")
        if self.OTP_DEBUG:
            raise ConfigError("OTP_DEBUG must be off in production: it would hand out login codes")
        if self.SMS_BACKEND in {"memory", "console"}:
            raise ConfigError(
                f"SMS_BACKEND={self.SMS_BACKEND} delivers nothing (and console logs the codes); "
                "use twilio, smsru or exolve in production"
            )
        plain = [url for url, _ in self.WEBHOOK_URLS if not url.startswith("https://")]
        if plain:
            raise ConfigError(f"WEBHOOK_URLS must be https in production: {plain[0]}")
        if self.TEST_PHONE_NUMBERS and not self.TEST_PHONE_NUMBERS_IN_PRODUCTION:
            raise ConfigError(
                "TEST_PHONE_NUMBERS sign in with fixed codes; in production set TEST_PHONE_NUMBERS_IN_PRODUCTION=true "
                "to allow them on purpose"
            )


ENVIRONMENTS: dict[str, type[Config]] = {
    "development": Development,
    "testing": Testing,
    "production": Production,
}


def normalise_database_url(url: str | None) -> str | None:
    """Accept the ``postgres://`` and ``postgresql://`` forms hosting providers hand out; drive them with psycopg 3."""
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(app_env: str | None = None) -> Config:
    """The settings object for ``APP_ENV`` (or the name given), validated."""
    name = (app_env or env_str("APP_ENV", "development") or "development").lower()
    if name not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}")
    config = ENVIRONMENTS[name]()
    config.validate()
    return config

"""Logging: one line per event on standard error, with the request id in every line; phones masked.

``LOG_FORMAT=json`` (the default outside development) writes one JSON object per line for log collectors;
``text`` is for a developer's terminal. The HTTP layer sets ``request_id`` and ``client_ip`` per request
(``http/policy.py``); every layer may log, so this module imports none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger import json as json_log

request_id: ContextVar[str] = ContextVar("request_id", default="-")
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def mask_phone(phone: str) -> str:
    """``+79991234567`` as ``+7999***4567``, for logs."""
    if len(phone) <= 8:
        return "***"
    return f"{phone[:5]}***{phone[-4:]}"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(json_log.JsonFormatter):
    """One JSON object a line: time (ISO 8601, UTC, milliseconds), level, logger, request_id, message, and
    whatever the call passed as ``extra`` (the security events' fields); an exception as ``exception``."""

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{request_id}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "exc_info": "exception"},
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module added, so that a second app in one process does not add another."""


def configure_logging(config: Mapping[str, Any]) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _OurHandler)), None)
    if handler is None:
        handler = _OurHandler()
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if config["LOG_FORMAT"] == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(config["LOG_LEVEL"])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

"""Logging: one line per event on standard error, with the request id in every line.

``LOG_FORMAT=json`` (the default outside development) writes one JSON object per line for log collectors;
``text`` is for a developer's terminal.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import Flask, Response, request

request_id: ContextVar[str] = ContextVar("request_id", default="-")

# A caller's id is echoed only if it is short and plain: it ends up in every log line.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if security := getattr(record, "security", None):
            line["security"] = security
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(app: Flask) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_referral", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._referral = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(app.config["LOG_LEVEL"])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    app.before_request(start_request)
    app.after_request(tag_response)


def start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    request_id.set(incoming if SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex)


def tag_response(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id.get()
    return response

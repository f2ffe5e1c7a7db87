"""Request policy shared by every endpoint: JSON bodies only."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import UnsupportedMediaType

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def register_request_hooks(app: Flask) -> None:
    app.before_request(require_json_body)


def require_json_body() -> None:
    """A body that is not JSON is refused with 415 instead of being read as "no fields"."""
    if request.method not in BODY_METHODS:
        return
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
    if has_body and not request.is_json:
        raise UnsupportedMediaType()

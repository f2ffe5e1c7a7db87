"""Request policy shared by every endpoint: a request id on every request and response, the per-IP limits
(``limits.py``), JSON bodies only, no cookie session, and which reads may run outside a transaction."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from referral.http.limits import init_limits
from referral.infra.sql import read_outside_transactions
from referral.logs import client_ip, request_id

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
API_PREFIX = "/api/"
# A caller's id is echoed only if it is short and plain: it ends up in every log line.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class NoCookieSessionOnTheApi(SecureCookieSessionInterface):
    """The API is bearer tokens only: on its paths no signed-cookie session is opened or saved (Flask's would,
    per request). The pages (``web/``) keep Flask's: their CSRF tokens and the sign-in in progress live there."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return None  # Flask then uses its null session, which refuses writes
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if request.path.startswith(API_PREFIX):
            return None
        return super().save_session(app, session, response)


def register_request_policy(app: Flask) -> None:
    """In the order a request meets them: its id, the per-IP limits, the JSON-only rule."""
    app.session_interface = NoCookieSessionOnTheApi()
    app.before_request(start_request)
    app.before_request(limit_streamed_body)
    init_limits(app)
    app.before_request(require_json_body)
    app.after_request(tag_response)
    app.teardown_request(end_request)


def start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    request_id.set(incoming if SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex)
    client_ip.set(request.remote_addr)
    # A GET only reads: on PostgreSQL its reads need no transaction (infra/sql.py).
    read_outside_transactions(request.method == "GET" and current_app.config["DB_AUTOCOMMIT_READS"])


def limit_streamed_body() -> None:
    """A body sent without ``Content-Length`` (``Transfer-Encoding: chunked``) is held to ``MAX_CONTENT_LENGTH``
    as an announced one is: read up to the limit and one byte more, and refused with 413 if that byte exists.

    Werkzeug stops such a stream at the limit without saying so, and the cut body would be read as if whole.
    What is read is kept (``get_data(cache=True)``), so the JSON and form parsers read the same bytes.
    """
    limit = request.max_content_length
    if limit is None or request.content_length is not None or not is_chunked(request):
        return
    if "wsgi.input_terminated" not in request.environ:
        return  # a server that cannot end the stream: Werkzeug reads no body at all
    if len(request.get_data(cache=True)) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def is_chunked(request: Request) -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def require_json_body() -> None:
    """A body that is not JSON is refused with 415 instead of being read as "no fields" (the pages' forms are
    form-encoded: the rule is the API's)."""
    if request.method not in BODY_METHODS or not request.path.startswith(API_PREFIX):
        return
    has_body = bool(request.content_length) or is_chunked(request)
    if has_body and not request.is_json:
        raise UnsupportedMediaType()


def tag_response(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id.get()
    return response


def end_request(error: BaseException | None = None) -> None:
    """Where an app context outlives the request (tests, the shell), nothing of the request leaks past it."""
    read_outside_transactions(False)
    client_ip.set(None)

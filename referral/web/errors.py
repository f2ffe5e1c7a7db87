"""Errors a person can meet get a page in the site's look; the API's paths keep their problem+json.

These handlers take over the app's (``http/problems.py``) and hand every request that is not a page's back to
them, so there is still one error path per kind of client.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from referral.domain.errors import DomainError
from referral.http import limits, problems
from referral.web.pages import signed_in_here

log = logging.getLogger(__name__)

NOT_PAGES = ("/api/", "/openapi.json", "/docs", "/healthz", "/readyz", "/metrics")


def is_page() -> bool:
    return not request.path.startswith(NOT_PAGES)


def register_error_pages(app: Flask) -> None:
    app.register_error_handler(CSRFError, _page_or(problems.handle_http_exception))
    app.register_error_handler(HTTPException, _page_or(problems.handle_http_exception))
    app.register_error_handler(DomainError, _page_or(problems.handle_domain_error))
    for kind in problems.UNAVAILABLE:
        app.register_error_handler(kind, _page_or(problems.handle_unavailable))
    app.register_error_handler(Exception, _page_or(problems.handle_unexpected))


def _page_or(api_handler: Any) -> Any:
    def handle(error: Exception) -> Any:
        if not is_page():
            return api_handler(error)
        return error_page(error)

    return handle


def error_page(error: Exception) -> tuple[str, int, dict[str, str]]:
    problems.rollback_quietly()
    headers: dict[str, str] = {}
    retry_after = None
    if isinstance(error, CSRFError):
        status = 400
    elif isinstance(error, HTTPException):
        status = error.code or 500
        if status == 429:
            retry_after = limits.retry_after()
    elif isinstance(error, DomainError):
        status = problems.status_of(error)
        retry_after = error.retry_after
    elif isinstance(error, problems.UNAVAILABLE):
        status, retry_after = 503, 5
        log.error("dependency unavailable: %s", type(error).__name__, exc_info=error)
    else:
        status = 500
        log.error("unhandled error on a page", exc_info=error)
    if status >= 500 and status != 503:
        status = 500
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    csrf = isinstance(error, CSRFError)
    signed_out = csrf and request.path.startswith(("/profile", "/logout")) and not signed_in_here()
    if status == 401 or signed_out:  # e.g. a profile's form sent after signing out in another tab
        return render_template("signed_out.html"), 401, headers
    invite_link = status == 404 and request.path.startswith("/i/")
    page = render_template("error.html", status=status, retry_after=retry_after, csrf=csrf, invite_link=invite_link)
    return page, status, headers

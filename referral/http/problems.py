"""The one path from any exception to an RFC 9457 problem body (``application/problem+json``).

Validation (webargs via flask-smorest), HTTP errors, token errors (flask-jwt-extended's loaders), domain
errors and database failures all end in ``problem()``. Whatever failed, the transaction is rolled back first.

A database that cannot answer becomes 503 ``service_unavailable`` with ``Retry-After`` here: SQLAlchemy's
``OperationalError``, ``InterfaceError``, ``InternalError`` and pool timeout (the ORM session),
``DatabaseUnavailable`` (the hot read path's pool, ``infra/sql.py``), and ``SmsQueueFull`` (the SMS queue
would not take the code).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json
from flask_jwt_extended import JWTManager
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from referral.domain import errors as domain
from referral.domain.audit import security_event
from referral.domain.phones import INVALID_PHONE_MESSAGE
from referral.extensions import db
from referral.http import limits
from referral.http.metrics import route_rule
from referral.infra import metrics
from referral.infra.sms import SmsQueueFull
from referral.infra.sql import DatabaseUnavailable

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"

STATUS_OF_DOMAIN_ERROR: dict[type[domain.DomainError], int] = {
    domain.CodeResendTooSoon: 429,
    domain.CodeInvalid: 401,
    domain.CodeExpired: 401,
    domain.CodeAttemptsExceeded: 429,
    domain.InviteCodeNotFound: 404,
    domain.InviteAlreadyActivated: 409,
    domain.InviteCodeOwn: 422,
    domain.InviteCycle: 422,
    domain.PhoneTaken: 409,
    domain.PhoneUnchanged: 422,
    domain.TokenRevoked: 401,
    domain.RateLimited: 429,
    domain.PhoneRegionNotAllowed: 422,
    domain.SessionNotFound: 404,
    domain.AccountBlocked: 403,
    domain.AuthenticatorCodeInvalid: 401,
    domain.UserNotFound: 404,
    domain.ReferralNotFound: 404,
    domain.ReferralVoided: 409,
    domain.ReferralNotHeld: 409,
    domain.RewardNotFound: 404,
    domain.RewardCancelled: 409,
    domain.ApiKeyInvalid: 401,
    domain.DomainError: 422,
}

CODE_OF_HTTP_STATUS = {
    400: ("malformed_json", "The request body is not valid JSON."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This address does not take that method."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send the body as application/json."),
    422: ("validation_error", "Some fields are not valid."),
    429: ("rate_limited", "Too many requests. Try again later."),
    503: ("service_unavailable", "The service is unavailable. Try again later."),
}

# RFC 9110 renamed these two; Python's http module still has the old phrases.
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}

TOKEN_PROBLEM_DETAILS = {
    "token_missing": "Sign in first: send the Authorization: Bearer <token> header.",
    "token_invalid": "The token is not valid.",
    "token_expired": "The token has expired.",
    "token_revoked": "This session has ended. Sign in again.",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The problem response every error ends in."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    response.headers.update(headers or {})
    return response


# What a dependency that cannot answer raises: 503. InternalError is the driver losing track of the protocol
# (seen from PgBouncer while PostgreSQL shut down).
UNAVAILABLE = (SmsQueueFull, DatabaseUnavailable, OperationalError, InterfaceError, InternalError, PoolTimeoutError)


def status_of(error: domain.DomainError) -> int:
    return next(STATUS_OF_DOMAIN_ERROR[kind] for kind in type(error).__mro__ if kind in STATUS_OF_DOMAIN_ERROR)


def register_error_handlers(app: Flask, jwt: JWTManager) -> None:
    """Route every failure through ``problem``; replaces flask-smorest's own ``HTTPException`` handler."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(domain.DomainError, handle_domain_error)
    for error in UNAVAILABLE:
        app.register_error_handler(error, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
    register_token_errors(jwt)


def handle_http_exception(error: HTTPException) -> Response:
    rollback_quietly()
    status = error.code or 500
    if status >= 500 and status != 503:
        return handle_unexpected(error)
    code, detail = CODE_OF_HTTP_STATUS.get(status, ("http_error", error.description or ""))
    headers = {}
    if status == 405:
        headers = {k: v for k, v in error.get_headers() if k == "Allow"}
    if isinstance(error, RateLimitExceeded):
        headers["Retry-After"] = str(limits.retry_after())
        security_event("ip_rate_limited", limit=str(error.limit.limit))
        metrics.LIMIT_REFUSALS.labels(route_rule(), str(error.limit.limit)).inc()
    errors = None
    if status == 422:
        errors = _field_errors(getattr(error, "data", {}).get("messages", {}))
        code, detail = _validation_code(errors)
    return problem(status, code, detail, errors=errors, headers=headers)


def handle_domain_error(error: domain.DomainError) -> Response:
    rollback_quietly()
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
    status = status_of(error)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if error.code.startswith("token_") else "Bearer"
    return problem(status, error.code, error.detail, headers=headers, **error.extra)


def dependency_of(error: Exception) -> str:
    """The dependency a 503 is about, as the metrics label it."""
    if isinstance(error, SmsQueueFull):
        return "sms_queue"
    if isinstance(error, PoolTimeoutError):
        return "database_pool"  # no connection free within DB_POOL_TIMEOUT
    return "database"


def handle_unavailable(error: Exception) -> Response:
    rollback_quietly()
    metrics.UNAVAILABLE.labels(dependency_of(error)).inc()
    log.error("dependency unavailable: %s", type(error).__name__, exc_info=error)
    code, detail = CODE_OF_HTTP_STATUS[503]
    return problem(503, code, detail, headers={"Retry-After": "5"})


def handle_unexpected(error: BaseException) -> Response:
    rollback_quietly()
    original = getattr(error, "original_exception", None) or error
    log.error("unhandled error", exc_info=original)
    return problem(500, "internal_error", "Something went wrong on our side. It has been logged.")


def token_problem(code: str) -> Response:
    # RFC 6750: a bearer-protected resource names its scheme on every 401.
    challenge = "Bearer" if code == "token_missing" else 'Bearer error="invalid_token"'
    return problem(401, code, TOKEN_PROBLEM_DETAILS[code], headers={"WWW-Authenticate": challenge})


def register_token_errors(jwt: JWTManager) -> None:
    """flask-jwt-extended answers 401 problems with our codes, never its ``{"msg": ...}`` or 422."""
    jwt.unauthorized_loader(lambda reason: token_problem("token_missing"))
    jwt.invalid_token_loader(lambda reason: token_problem("token_invalid"))
    jwt.expired_token_loader(lambda header, payload: token_problem("token_expired"))
    jwt.revoked_token_loader(lambda header, payload: token_problem("token_revoked"))
    jwt.user_lookup_error_loader(lambda header, payload: token_problem("token_revoked"))
    jwt.needs_fresh_token_loader(lambda header, payload: token_problem("token_invalid"))
    jwt.token_verification_failed_loader(lambda header, payload: token_problem("token_invalid"))


def _field_errors(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location (``{"json": {"phone": [...]}}``); clients want them by field."""
    flat: dict[str, list[str]] = {}
    for location_errors in messages.values() if isinstance(messages, dict) else []:
        for field, field_errors in (location_errors or {}).items():
            name = "body" if field == "_schema" else field
            flat.setdefault(name, []).extend(_strings(field_errors))
    return flat


def _strings(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, dict):  # nested field errors: flatten them with their keys
        return [f"{key}: {text}" for key, value in messages.items() for text in _strings(value)]
    return [text for message in messages for text in _strings(message)]


def _validation_code(errors: dict[str, list[str]]) -> tuple[str, str]:
    """``invalid_phone`` when the only problem is an unparseable phone; ``validation_error`` otherwise."""
    if errors and all(messages == [INVALID_PHONE_MESSAGE] for messages in errors.values()):
        return "invalid_phone", INVALID_PHONE_MESSAGE
    if len(errors) == 1:
        ((field, messages),) = errors.items()
        return "validation_error", f"{field}: {messages[0]}"
    return "validation_error", f"Some fields are not valid: {', '.join(sorted(errors))}."


def rollback_quietly() -> None:
    """Never leave a failed request's writes half done; never let the rollback itself raise."""
    try:
        db.session.rollback()
    except Exception:  # the connection may be the thing that failed
        log.debug("rollback after an error failed", exc_info=True)

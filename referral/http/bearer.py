"""What runs on every authenticated request: the bearer token is verified, then its session is checked live.

``bearer_required`` stands in front of every endpoint behind a token. It verifies the access token (from this
process's cache of verified tokens, ``infra/tokens.py``, or else in full by flask-jwt-extended's public
``verify_jwt_in_request``) and then reads the signed-in account together with its session's liveness in one
query (``domain.account.live_account``): a token is good only while its session is, in every process at once.
Refresh tokens are never kept; ``/auth/refresh`` checks its session in the rotation itself. A view that reads
its own data with the session's check in the same statement (the referral pages: one round trip, not two)
asks for ``session_in_view`` and reads through ``read_with_session``.

The cache is consulted only for a plain ``Authorization: Bearer <token>`` whose exact token passed the full
check before in this process and has not reached its ``exp``; anything else takes the full check, with
flask-jwt-extended's own errors (``problems.register_token_errors`` answers them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, request
from flask_jwt_extended import verify_jwt_in_request
from flask_jwt_extended.exceptions import NoAuthorizationError
from werkzeug.exceptions import HTTPException

from referral.domain.account import Account, live_account
from referral.domain.errors import DomainError, TokenRevoked
from referral.extensions import VERIFIED_TOKENS
from referral.infra.tokens import VerifiedTokens

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

SUBJECT = re.compile(r"[1-9][0-9]{0,17}")


def init_bearer(app: Flask) -> None:
    app.extensions[VERIFIED_TOKENS] = VerifiedTokens(app.config["TOKEN_CACHE_SIZE"])


def bearer_required(*, refresh: bool = False, referrals: int = 0, session_in_view: bool = False) -> Callable[[F], F]:
    """Let the view run only for a valid token of a live session.

    ``refresh``: the token must be a refresh token (not kept, not checked against the session here).
    ``referrals``: read the account with the phones of that many newest referrals (the profile's one query).
    ``session_in_view``: the view checks the session itself, in the statement that reads what it answers
    (``read_with_session``). A refusal of the view's before that (a 422 for its query) waits for the session's
    check here, so that a dead session's 401 still comes first, as on every other endpoint.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def authenticated(*args: Any, **kwargs: Any) -> Any:
            claims = verified_refresh_claims() if refresh else verified_access_claims()
            g.bearer_claims = claims
            if refresh:
                return view(*args, **kwargs)
            if not session_in_view:
                g.account = _live_account(claims, referrals)
                return view(*args, **kwargs)
            g.session_checked = False
            try:
                answer = view(*args, **kwargs)
            except (HTTPException, DomainError):
                if not g.session_checked:
                    _live_account(claims, 0)
                raise
            if not g.session_checked:
                raise RuntimeError(f"{view.__name__} answered without checking the session (read_with_session)")
            return answer

        return cast(F, authenticated)

    return decorate


def _live_account(claims: dict[str, Any], referrals: int) -> Account:
    session_id = claims.get("sid")
    account = live_account(session_id, referrals) if isinstance(session_id, str) else None
    if account is None or str(account.id) != claims.get("sub"):
        raise TokenRevoked
    return account


def read_with_session(read: Callable[..., T | None], *args: Any) -> T:
    """``read(session_id, user_id, *args)`` for a view behind ``bearer_required(session_in_view=True)``: the
    read checks in its own statement that the token's session is live and the user's, and gives ``None`` when
    it is not (the 401)."""
    claims = current_claims()
    session_id, subject = claims.get("sid"), claims.get("sub")
    g.session_checked = True
    # our own tokens carry a users.id (a BIGINT) as their subject; anything else names no session of ours
    if not isinstance(session_id, str) or not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        raise TokenRevoked
    found = read(session_id, int(subject), *args)
    if found is None:
        raise TokenRevoked
    return found


def verified_access_claims() -> dict[str, Any]:
    """The claims of this request's access token, from the cache or after the full check (then kept)."""
    cache: VerifiedTokens = current_app.extensions[VERIFIED_TOKENS]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer" and (claims := cache.get(token)) is not None:
        return claims
    claims = _verify(refresh=False)
    if scheme == "Bearer":
        cache.put(token, claims)
    return claims


def verified_refresh_claims() -> dict[str, Any]:
    return _verify(refresh=True)


def _verify(*, refresh: bool) -> dict[str, Any]:
    """flask-jwt-extended's full check: it raises for a missing, malformed, forged or expired token."""
    verified = verify_jwt_in_request(refresh=refresh)
    if verified is None:  # only for JWT_EXEMPT_METHODS (OPTIONS), which Flask answers before any view
        raise NoAuthorizationError("no token")
    _, claims = verified
    return claims


def current_account() -> Account:
    """The signed-in account of this request (a view behind ``bearer_required``)."""
    account: Account = g.account
    return account


def current_claims() -> dict[str, Any]:
    """The verified claims of this request's token (a view behind ``bearer_required``)."""
    claims: dict[str, Any] = g.bearer_claims
    return claims

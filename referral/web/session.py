"""The signed-in person of a page: the API's own session rows and tokens, carried in cookies.

The access and refresh tokens are the ones ``POST /auth/token`` hands out, in ``HttpOnly`` cookies
(``SameSite=Lax``, ``Secure`` in production) that only the pages read: the API takes bearer headers only. A page
whose access cookie has expired while the refresh cookie is live rotates the pair, as ``/auth/refresh`` does,
and the new cookies go out with the page. Every page checks the session row, so a logout anywhere (or a phone
change) ends it everywhere at once.
"""

from __future__ import annotations

from typing import Any

import flask_babel
import jwt as pyjwt
from flask import Response, current_app, g, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException

from referral.domain import sessions
from referral.domain.account import Account, live_account
from referral.domain.errors import TokenRevoked

ACCESS_COOKIE = "referral_access"
REFRESH_COOKIE = "referral_refresh"


def signed_in() -> Account | None:
    """The account of this page's cookies, rotating an expired access token; ``None`` when signed out."""
    if "web_account" in g:
        return g.web_account  # type: ignore[no-any-return]
    claims = _claims(request.cookies.get(ACCESS_COOKIE), "access")
    if claims is None:
        refresh = _claims(request.cookies.get(REFRESH_COOKIE), "refresh")
        if refresh is not None:
            try:
                g.new_tokens = pair = sessions.rotate_session(refresh["sid"], refresh["jti"])
            except TokenRevoked:
                g.clear_tokens = True
                pair = None
            claims = _claims(pair.access_token, "access") if pair is not None else None
    account = live_account(claims["sid"]) if claims is not None else None
    if claims is not None and (account is None or str(account.id) != claims.get("sub")):
        g.clear_tokens, account = True, None
    g.web_account = account
    return account


def keep(pair: sessions.TokenPair) -> None:
    """Send these tokens to the browser with this page (sign-in, phone change)."""
    g.new_tokens = pair


def forget() -> None:
    g.clear_tokens = True


def write_cookies(response: Response) -> Response:
    """After each page: the tokens it made, or their removal."""
    secure = current_app.config["APP_ENV"] == "production"
    pair: sessions.TokenPair | None = g.get("new_tokens")
    if pair is not None:
        common: dict[str, Any] = {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/"}
        response.set_cookie(ACCESS_COOKIE, pair.access_token, max_age=pair.expires_in, **common)
        refresh_ttl = current_app.config["REFRESH_TOKEN_TTL_SECONDS"]
        response.set_cookie(REFRESH_COOKIE, pair.refresh_token, max_age=refresh_ttl, **common)
    elif g.get("clear_tokens"):
        for name in (ACCESS_COOKIE, REFRESH_COOKIE):
            response.delete_cookie(name, path="/", httponly=True, samesite="Lax", secure=secure)
    return response


def end_page(error: BaseException | None = None) -> None:
    """What this module kept on ``g`` is the request's; where an app context outlives it (tests), it goes."""
    for key in ("web_account", "new_tokens", "clear_tokens"):
        g.pop(key, None)
    # Flask-WTF keeps the request's CSRF token on g under the field's name, and Flask-Babel its locale.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    flask_babel.refresh()


def session_id() -> str | None:
    """The session of this page's tokens (for logging out)."""
    pair: sessions.TokenPair | None = g.get("new_tokens")
    token = pair.access_token if pair is not None else request.cookies.get(ACCESS_COOKIE)
    claims = _claims(token, "access")
    return claims.get("sid") if claims is not None else None


def _claims(token: str | None, kind: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        claims: dict[str, Any] = decode_token(token)
    except (pyjwt.PyJWTError, JWTExtendedException):  # expired, forged, malformed: treated as no token
        return None
    return claims if claims.get("type") == kind and isinstance(claims.get("sid"), str) else None

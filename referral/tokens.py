"""Access tokens verified once per process rather than on every request.

flask-jwt-extended checks a token by parsing it four times with PyJWT (claims and header unverified, the
verified decode, then the header again for the callbacks), and PyJWT 2.15 checks every character of every
segment each time: together the largest cost of ``GET /profile`` after the database. A client sends the same
access token with every request while it lives (``ACCESS_TOKEN_TTL_SECONDS``), so each process keeps the
claims and header of the access tokens it has verified, keyed by the whole token: one character changed (the
signature included) is a miss and gets the full check. A kept token is used only until its ``exp``; after
that the full check runs again and fails as it always did (``token_expired``). Revocation is untouched: it
is the database check on the session, made on every request after this one.
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

import flask_jwt_extended.view_decorators
from flask import Flask, current_app, has_app_context
from flask_jwt_extended import JWTManager
from flask_jwt_extended.utils import get_unverified_jwt_headers


class Verified(NamedTuple):
    claims: dict[str, Any]
    header: dict[str, Any]


class VerifiedTokens:
    """At most ``size`` verified access tokens with their claims and header; the oldest goes first when full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._tokens: dict[str, Verified] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Verified | None:
        verified = self._tokens.get(token)
        if verified is None:
            return None
        if verified.claims["exp"] <= time.time():  # the clock PyJWT checks exp against
            self._tokens.pop(token, None)
            return None
        return verified

    def put(self, token: str, claims: dict[str, Any], header: dict[str, Any]) -> None:
        if self.size <= 0 or claims.get("type") != "access" or not isinstance(claims.get("exp"), int | float):
            return
        with self._lock:
            while len(self._tokens) >= self.size:
                self._tokens.pop(next(iter(self._tokens)))  # dicts keep insertion order: the oldest
            self._tokens[token] = Verified(dict(claims), dict(header))

    def __len__(self) -> int:
        return len(self._tokens)


class CachingJWTManager(JWTManager):
    """flask-jwt-extended's manager with a per-app :class:`VerifiedTokens` in front of its decoding.

    It overrides ``_decode_jwt_from_config``, the one method every decode goes through, and answers the header
    read that follows a decode (``view_decorators.get_unverified_jwt_headers``) from the same entry.
    Flask-JWT-Extended is pinned; ``tests/test_tokens.py`` fails if either stops being used.
    """

    def init_app(self, app: Flask, add_context_processor: bool = False) -> None:
        super().init_app(app, add_context_processor)
        app.extensions["verified_tokens"] = VerifiedTokens(app.config["TOKEN_CACHE_SIZE"])
        flask_jwt_extended.view_decorators.get_unverified_jwt_headers = _verified_token_header

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        cache: VerifiedTokens = current_app.extensions["verified_tokens"]
        if csrf_value is None and not allow_expired:
            verified = cache.get(encoded_token)
            if verified is not None:
                return dict(verified.claims)
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if not allow_expired:
            cache.put(encoded_token, claims, get_unverified_jwt_headers(encoded_token))
        return claims


def _verified_token_header(encoded_token: str) -> dict[str, Any]:
    """The header of a token, from the cache when the token is a kept one, else parsed."""
    cache: VerifiedTokens | None = current_app.extensions.get("verified_tokens") if has_app_context() else None
    verified = cache.get(encoded_token) if cache is not None else None
    return dict(verified.header) if verified is not None else get_unverified_jwt_headers(encoded_token)

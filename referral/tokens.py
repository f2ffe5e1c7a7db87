"""Access tokens verified once per process rather than on every request.

flask-jwt-extended checks a token by parsing it three times with PyJWT (claims and header unverified, then the
verified decode): about 170 µs a request here, the largest cost of ``GET /profile`` after the database. A client
sends the same access token with every request while it lives (``ACCESS_TOKEN_TTL_SECONDS``), so each process
keeps the claims of the access tokens it has verified, keyed by the whole token: one character changed (the
signature included) is a miss and gets the full check. A kept token is used only until its ``exp``; after that
the full check runs again and fails as it always did (``token_expired``). Revocation is untouched: it is the
database check on the session, made on every request after this one.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, current_app
from flask_jwt_extended import JWTManager


class VerifiedTokens:
    """At most ``size`` verified access tokens and their claims; the oldest goes first when it is full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._claims: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims["exp"] <= time.time():  # the clock PyJWT checks exp against
            self._claims.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        if self.size <= 0 or claims.get("type") != "access" or not isinstance(claims.get("exp"), int | float):
            return
        with self._lock:
            while len(self._claims) >= self.size:
                self._claims.pop(next(iter(self._claims)))  # dicts keep insertion order: the oldest
            self._claims[token] = claims

    def __len__(self) -> int:
        return len(self._claims)


class CachingJWTManager(JWTManager):
    """flask-jwt-extended's manager with a per-app :class:`VerifiedTokens` in front of its decoding.

    It overrides ``_decode_jwt_from_config``, the one method every decode goes through (Flask-JWT-Extended is
    pinned; ``tests/test_tokens.py`` fails if that method stops being used).
    """

    def init_app(self, app: Flask, add_context_processor: bool = False) -> None:
        super().init_app(app, add_context_processor)
        app.extensions["verified_tokens"] = VerifiedTokens(app.config["TOKEN_CACHE_SIZE"])

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        cache: VerifiedTokens = current_app.extensions["verified_tokens"]
        if csrf_value is None and not allow_expired:
            claims = cache.get(encoded_token)
            if claims is not None:
                return dict(claims)
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if not allow_expired:
            cache.put(encoded_token, dict(claims))
        return claims

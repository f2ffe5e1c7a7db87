"""Access tokens verified once per process rather than on every request.

flask-jwt-extended checks a token by parsing it several times with PyJWT, and PyJWT 2.15 checks every character
of every segment each time: together the largest cost of ``GET /profile`` after the database. A client sends the
same access token with every request while it lives (``ACCESS_TOKEN_TTL_SECONDS``), so each process keeps the
claims of the access tokens it has verified, keyed by the whole token: one character changed (the signature
included) is a miss and gets the full check. A kept token is used only until its ``exp``; after that the full
check runs again and fails as it always did (``token_expired``). Revocation is untouched: it is the database
check on the session, made on every request whichever way the token was verified (``http/bearer.py``).
"""

from __future__ import annotations

import threading
import time
from typing import Any


class VerifiedTokens:
    """At most ``size`` verified access tokens with their claims; the oldest goes first when full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._tokens: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        """The claims of a kept token that has not expired yet, else ``None``."""
        claims = self._tokens.get(token)
        if claims is None:
            return None
        if claims["exp"] <= time.time():  # the clock PyJWT checks exp against
            self._tokens.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        """Keep an access token that has just passed the full check (refresh tokens are spent, not kept)."""
        if self.size <= 0 or claims.get("type") != "access" or not isinstance(claims.get("exp"), int | float):
            return
        with self._lock:
            while len(self._tokens) >= self.size:
                self._tokens.pop(next(iter(self._tokens)))  # dicts keep insertion order: the oldest
            self._tokens[token] = dict(claims)

    def __contains__(self, token: str) -> bool:
        return token in self._tokens

    def __len__(self) -> int:
        return len(self._tokens)

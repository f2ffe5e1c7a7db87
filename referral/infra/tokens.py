"""Access tokens verified once per process rather than on every request (``docs/design.md``, "Verified tokens").

A client sends the same access token with every request while it lives, so each process keeps the claims of the
access tokens it has verified, keyed by the whole token (one character changed is a miss and gets the full
check), each until its ``exp``. Revocation is untouched: the session is checked on every request.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from cachetools import TLRUCache


def _until_expiry(token: str, claims: dict[str, Any], now: float) -> float:
    return float(claims["exp"])


class VerifiedTokens:
    """At most ``size`` verified access tokens with their claims, each kept until its ``exp`` (by the clock
    PyJWT checks it against); the least recently used goes first when full. ``size`` 0 keeps none."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._tokens: TLRUCache[str, dict[str, Any]] = TLRUCache(
            maxsize=max(size, 1), ttu=_until_expiry, timer=time.time
        )
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe

    def get(self, token: str) -> dict[str, Any] | None:
        """The claims of a kept token that has not expired yet, else ``None``."""
        with self._lock:
            return self._tokens.get(token)

    def put(self, token: str, claims: dict[str, Any]) -> None:
        """Keep an access token that has just passed the full check (refresh tokens are spent, not kept)."""
        if self.size <= 0 or claims.get("type") != "access" or not isinstance(claims.get("exp"), int | float):
            return
        with self._lock:
            self._tokens[token] = dict(claims)

    def __contains__(self, token: str) -> bool:
        with self._lock:
            return token in self._tokens

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)

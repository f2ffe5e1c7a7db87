"""The programme's API keys: its own backend calls the server-to-server API with one (``X-API-Key``), never
with a user's token. A key is ``rk_<id>_<secret>``; only the SHA-256 of the secret is kept, compared in
constant time; a revoked key is refused at once."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from referral import clock
from referral.domain.errors import ApiKeyInvalid
from referral.extensions import db
from referral.infra import api_keys as store

KEY_SHAPE = re.compile(r"rk_([a-z0-9]{8})_([A-Za-z0-9_-]{32,64})")


@dataclass(frozen=True)
class NewKey:
    id: str
    name: str
    key: str  # shown once


def create(name: str) -> NewKey:
    """A new key named ``name`` (who uses it); commits. The key itself is shown only now."""
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    store.insert(key_id, name.strip()[:80] or key_id, _digest(secret), clock.utcnow())
    db.session.commit()
    return NewKey(key_id, name, f"rk_{key_id}_{secret}")


def revoke(key_id: str) -> bool:
    """Whether the key was live (and is revoked now); commits."""
    revoked = store.revoke(key_id, clock.utcnow())
    db.session.commit()
    return revoked


def keys() -> list[store.KeyRow]:
    return store.all_keys()


def authenticate(presented: str | None) -> str:
    """The id of the live key ``presented``; ``ApiKeyInvalid`` for a missing, malformed, unknown, wrong or
    revoked one (the same refusal for each)."""
    shape = KEY_SHAPE.fullmatch((presented or "").strip())
    if shape is None:
        raise ApiKeyInvalid
    key_id, secret = shape.groups()
    found = store.live_key(key_id)
    if found is None or not hmac.compare_digest(found.secret_hash, _digest(secret)):
        raise ApiKeyInvalid
    return key_id


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()

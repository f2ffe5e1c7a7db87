"""The fraud signals of this request (``domain/fraud.py``): its network, a hash of its user agent, and on the
pages the first-party device id of the ``device`` cookie (random, set by the pages; no fingerprinting)."""

from __future__ import annotations

import re
import secrets

from flask import request

from referral.domain import fraud

DEVICE_COOKIE = "device"
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{16,32}")


def request_signals() -> fraud.Signals:
    """What this request leaves for the fraud rules (behind TRUSTED_PROXIES, ProxyFix has set the address)."""
    device = request.cookies.get(DEVICE_COOKIE, "")
    return fraud.signals_of(
        request.remote_addr, request.user_agent.string, device if DEVICE_ID.fullmatch(device) else None
    )


def new_device_id() -> str:
    return secrets.token_urlsafe(16)

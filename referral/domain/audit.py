"""Security events: one structured log line each, phones masked, never a code."""

from __future__ import annotations

import logging
from typing import Any

from referral.infra import metrics
from referral.logs import client_ip, mask_phone

log = logging.getLogger("referral.security")

# Events an operator should look at; the rest are the normal traffic of a login system.
WARNINGS = frozenset({"phone_locked", "refresh_token_reused", "send_capped", "ip_rate_limited"})


def security_event(event: str, phone: str | None = None, **fields: Any) -> None:
    """Log ``event`` as ``security event=... phone=+7999***4567 ip=... key=value``."""
    metrics.SECURITY_EVENTS.labels(event).inc()
    record: dict[str, Any] = {"event": event}
    if phone is not None:
        record["phone"] = mask_phone(phone)
    if (ip := client_ip.get()) is not None:
        record["ip"] = ip
    record.update(fields)
    line = " ".join(f"{key}={value}" for key, value in record.items())
    log.log(logging.WARNING if event in WARNINGS else logging.INFO, "security %s", line, extra={"security": record})

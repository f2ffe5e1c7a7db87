"""Fraud signals and the rules that hold a referral for review instead of qualifying it.

What is kept of a request is the least the rules need (no fingerprinting): the client's network (its /24 for
IPv4, /48 for IPv6), a short hash of its user agent, and on the pages a random first-party device id from a
cookie. Each rule is a setting with a default, 0 turning it off (``config.py``, FRAUD_*); ``docs/design.md``,
"Fraud rules", says why each default is what it is.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from flask import current_app

from referral import clock
from referral.domain.phones import MOBILE_TYPES
from referral.infra import fraud_signals

# Why a referral was held, as the console shows them and events name them.
SHARED_DEVICE = "shared_device"
SHARED_NETWORK = "shared_network"
REFERRAL_BURST = "referral_burst"
SEQUENTIAL_NUMBERS = "sequential_numbers"
SHARED_PREFIX = "shared_prefix"
NOT_MOBILE = "not_mobile"
VIRTUAL_NUMBER = "virtual_number"
REASONS = (SHARED_DEVICE, SHARED_NETWORK, REFERRAL_BURST, SEQUENTIAL_NUMBERS, SHARED_PREFIX, NOT_MOBILE, VIRTUAL_NUMBER)

# At most how many of the inviter's referrals of the last day the number rules read.
RECENT_REFERRALS = 20


@dataclass(frozen=True)
class Signals:
    """What a request leaves for the rules: its network, a hash of its user agent, the pages' device id."""

    network: str | None = None
    agent_hash: str | None = None
    device_id: str | None = None


NO_SIGNALS = Signals()


def signals_of(address: str | None, user_agent: str | None, device_id: str | None = None) -> Signals:
    """The signals of a request from ``address`` with ``user_agent`` (and the pages' ``device_id``)."""
    return Signals(network_of(address), agent_hash(user_agent), device_id or None)


def network_of(address: str | None) -> str | None:
    """``203.0.113.7`` as ``203.0.113.0/24``, an IPv6 address as its /48; ``None`` for anything else."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def agent_hash(user_agent: str | None) -> str | None:
    """The first 16 hex digits of the SHA-256 of the user agent: equal agents match, none can be read back."""
    if not user_agent:
        return None
    return hashlib.sha256(user_agent.encode("utf-8", "replace")).hexdigest()[:16]


@dataclass(frozen=True)
class Verdict:
    """The reasons to hold a referral (none: honest), and the evidence behind them for the review queue."""

    reasons: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return bool(self.reasons)

    def evidence_json(self) -> str:
        return json.dumps(self.evidence, sort_keys=True, default=str)


def ask_of(signals: Signals, now: datetime) -> fraud_signals.Ask | None:
    """What the rules that read the record want to know about a referral made now by a request that left
    ``signals``; ``None`` when every one of them is off (nothing is read). The statement that finds the inviter
    reads it in its own round trip on PostgreSQL (``referral_tree.chain_to_join``, ``accounts.insert_user``)."""
    config = current_app.config
    device_days, network_days = config["FRAUD_SHARED_DEVICE_DAYS"], config["FRAUD_SHARED_NETWORK_DAYS"]
    per_hour, gap, matches = (
        config["FRAUD_REFERRALS_PER_HOUR"],
        config["FRAUD_SEQUENCE_GAP"],
        config["FRAUD_PREFIX_MATCHES"],
    )
    if not (device_days or network_days or per_hour or gap or matches):
        return None
    return fraud_signals.Ask(
        network=signals.network,
        device_id=signals.device_id,
        now=now,
        recent=RECENT_REFERRALS if gap or matches else 0,
        per_hour=per_hour,
        network_since=now - timedelta(days=network_days) if network_days and signals.network else now,
        device_since=now - timedelta(days=device_days) if device_days else now,
    )


def judge(found: list[fraud_signals.EvidenceRow], invitee_id: int | None, phone: str, signals: Signals) -> Verdict:
    """The fraud rules' verdict on the referral of ``phone`` (the user ``invitee_id``, or a user this very
    request made) from what ``ask_of`` had read about the inviter (``found``) and this request's ``signals``. A
    new user's number was typed as a mobile by this request (sign-in refuses others): only an older account's is
    typed again (0.18 ms: phonenumbers' parse)."""
    config = current_app.config
    evidence: dict[str, Any] = {}
    mobile_only = config["FRAUD_MOBILE_ONLY"] and invitee_id is not None
    reasons = number_rules(phone, mobile_only, config["FRAUD_VIRTUAL_PREFIXES"])
    if reasons:
        evidence["number"] = phone
    per_hour, gap = config["FRAUD_REFERRALS_PER_HOUR"], config["FRAUD_SEQUENCE_GAP"]
    matches, tail = config["FRAUD_PREFIX_MATCHES"], config["FRAUD_PREFIX_TAIL"]
    record_rules(found, phone, per_hour, gap, matches, tail, reasons, evidence)
    if reasons:
        evidence["request"] = asdict(signals)  # this request's signals: kept only in the hold
    return Verdict(tuple(reasons), evidence)


def record_rules(
    found: list[fraud_signals.EvidenceRow],
    phone: str,
    per_hour: int,
    gap: int,
    matches: int,
    tail: int,
    reasons: list[str],
    evidence: dict[str, Any],
) -> None:
    """The rules that read the record (``found``), adding to ``reasons`` and ``evidence``."""
    by_kind = {row.kind: row for row in found if row.kind != "referral"}
    if "trusted" in by_kind:  # staff trust this inviter with a burst: the volume parts came back empty
        evidence["trusted_inviter"] = True
    for kind, reason in (("device", SHARED_DEVICE), ("network", SHARED_NETWORK)):
        if kind in by_kind:
            reasons.append(reason)
            evidence[kind] = {"value": by_kind[kind].value, "inviter_seen_at": by_kind[kind].at}
    in_the_hour = int(by_kind["last_hour"].value) if "last_hour" in by_kind else 0
    if per_hour and in_the_hour >= per_hour:
        reasons.append(REFERRAL_BURST)
        evidence["referrals_last_hour"] = in_the_hour
    recent_phones = [row.value for row in found if row.kind == "referral"]
    if close := neighbours(phone, recent_phones, gap):
        reasons.append(SEQUENTIAL_NUMBERS)
        evidence["sequential_with"] = close
    same_block = same_prefix(phone, recent_phones, tail)
    if matches and len(same_block) + 1 >= matches:
        reasons.append(SHARED_PREFIX)
        evidence["same_prefix_as"] = same_block


def number_rules(phone: str, mobile_only: bool, virtual_prefixes: tuple[str, ...]) -> list[str]:
    """A number that is not a mobile (phonenumbers' type; sign-in refuses those, but the metadata moves on and
    older accounts stay), or in a range the programme knows to be virtual."""
    reasons = []
    if mobile_only:
        try:
            kind = phonenumbers.number_type(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            kind = None
        if kind not in MOBILE_TYPES:
            reasons.append(NOT_MOBILE)
    if any(phone.startswith(prefix) for prefix in virtual_prefixes):
        reasons.append(VIRTUAL_NUMBER)
    return reasons


def neighbours(phone: str, others: list[str], gap: int) -> list[str]:
    """The numbers of ``others`` within ``gap`` of ``phone`` (+79001234567 and +79001234568: a pack of SIMs)."""
    if not gap:
        return []
    digits = int(phone.lstrip("+"))
    return [other for other in others if other != phone and abs(int(other.lstrip("+")) - digits) <= gap]


def same_prefix(phone: str, others: list[str], tail: int) -> list[str]:
    """The numbers of ``others`` that differ from ``phone`` only in the last ``tail`` digits."""
    block = phone[:-tail]
    return [other for other in others if other != phone and len(other) == len(phone) and other[:-tail] == block]


def trust(user_id: int, reason: str, staff_id: int | None = None) -> None:
    """Trust ``user_id`` with a burst of referrals (a planned campaign): from now on the volume rules (the
    hour's burst, numbers in sequence, one block of numbers) do not hold their referrals; the rules about one
    person inviting themselves still do. In the caller's transaction."""
    fraud_signals.trust(user_id, staff_id, reason, clock.utcnow())


def distrust(user_id: int) -> bool:
    """The volume rules apply to ``user_id`` again; whether they were trusted. In the caller's transaction."""
    return fraud_signals.distrust(user_id)


def trust_of(user_id: int) -> fraud_signals.TrustRow | None:
    return fraud_signals.trust_of(user_id)


def trusted(limit: int = 100) -> list[fraud_signals.TrustRow]:
    return fraud_signals.trusted(limit)

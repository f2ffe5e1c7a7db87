"""What the fraud rules read and keep: the footprints of sign-ins and activations, the evidence about an inviter
and an invitee in one statement, the holds with their reasons, and the purge after the retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from referral import clock
from referral.infra import sql
from referral.infra.models import UTCDateTime

AT = {"at": UTCDateTime()}

NEW_FOOTPRINT = sql.Statement(
    """
    INSERT INTO footprints (user_id, seen_at, kind, network, agent_hash, device_id)
    VALUES (:user_id, :at, :kind, :network, :agent_hash, :device_id)
    """,
    AT,
)

# What the fraud rules read about the inviter of a new referral, over a CTE ``inviter (id)`` that the statement
# carrying these parts defines, the invitee being :invitee_id (none yet at sign-up): whether staff trust them
# with a burst (then the two volume parts are empty), how many referrals they gained since :hour_ago (counted to
# :per_hour at most, from the index alone), their newest :recent referrals since :day_ago (phone, when), and
# their footprints that share a network (since :network_since) or a device (since :device_since) with this
# request's or with the invitee's own footprints of that time. Each part an index range. EVIDENCE runs them on
# their own; on PostgreSQL the two statements that find the inviter anyway carry them in their own round trip as
# one JSON array (EVIDENCE_JSON): the activation's chain (referral_tree.CHAIN_WITH_EVIDENCE_LOCKING) and the
# invited sign-up's insert (accounts.NEW_INVITED_USER_SIGNED_IN_WITH_EVIDENCE).
EVIDENCE_CTES = """
    trusted AS (SELECT count(*) AS yes FROM trusted_inviters WHERE user_id = (SELECT id FROM inviter)),
    theirs AS (
        SELECT network, device_id, seen_at FROM footprints
        WHERE user_id = (SELECT id FROM inviter) AND seen_at > :since
    ),
    mine AS (
        SELECT :network AS network, :device_id AS device_id, :now AS seen_at
        UNION ALL
        SELECT network, device_id, seen_at FROM footprints WHERE user_id = :invitee_id AND seen_at > :since
    )
"""
EVIDENCE_ROWS = """
    SELECT 'trusted' AS kind, '1' AS value, :now AS at FROM trusted WHERE yes > 0
    UNION ALL
    SELECT 'last_hour', CAST(count(*) AS VARCHAR(16)), :now FROM (
        SELECT 1 FROM users
        WHERE invited_by_id = (SELECT id FROM inviter) AND invited_at > :hour_ago AND (SELECT yes FROM trusted) = 0
        LIMIT :per_hour
    ) AS hour
    UNION ALL
    SELECT 'referral', recent.phone, recent.invited_at FROM (
        SELECT phone, invited_at FROM users
        WHERE invited_by_id = (SELECT id FROM inviter) AND invited_at > :day_ago AND (SELECT yes FROM trusted) = 0
        ORDER BY invited_at DESC, id DESC LIMIT :recent
    ) AS recent
    UNION ALL
    SELECT 'network', shared.network, shared.seen_at FROM (
        SELECT theirs.network, theirs.seen_at FROM theirs JOIN mine ON mine.network = theirs.network
        WHERE theirs.seen_at > :network_since AND mine.seen_at > :network_since
        LIMIT 3
    ) AS shared
    UNION ALL
    SELECT 'device', shared.device_id, shared.seen_at FROM (
        SELECT theirs.device_id, theirs.seen_at FROM theirs JOIN mine ON mine.device_id = theirs.device_id
        WHERE theirs.seen_at > :device_since AND mine.seen_at > :device_since
        LIMIT 3
    ) AS shared
"""
EVIDENCE_JSON = f"(SELECT json_agg(json_build_array(e.kind, e.value, e.at)) FROM ({EVIDENCE_ROWS}) AS e)"
EVIDENCE_PARAMETERS = {
    "now": UTCDateTime(),
    "since": UTCDateTime(),
    "network_since": UTCDateTime(),
    "device_since": UTCDateTime(),
    "hour_ago": UTCDateTime(),
    "day_ago": UTCDateTime(),
}

# The evidence about the owner of :invite_code (its exact spelling, or the one code that fits in another case).
EVIDENCE = sql.Statement(
    f"""
    WITH inviter AS (
        SELECT id FROM users WHERE invite_code = :invite_code
        UNION ALL SELECT id FROM invite_codes WHERE folded = upper(:invite_code) AND sharing = 1
        LIMIT 1
    ),
    {EVIDENCE_CTES}
    {EVIDENCE_ROWS}
    """,
    EVIDENCE_PARAMETERS,
    AT,
)


class EvidenceRow(NamedTuple):
    kind: str  # trusted, last_hour, referral, network or device
    value: str  # '1' (trusted), the hour's referrals, a referral's phone, the shared network or device id
    at: datetime


# The state of a referral held after it was written (an invited sign-up writes the user before the rules judge).
MARK_HELD = sql.Statement(
    "UPDATE users SET referral_state = 'held', referral_state_at = :at WHERE id = :invitee_id", AT
)

NEW_HOLD = sql.Statement(
    """
    INSERT INTO referral_holds (invitee_id, inviter_id, reasons, evidence, held_at)
    VALUES (:invitee_id, :inviter_id, :reasons, :evidence, :at)
    ON CONFLICT (invitee_id) DO UPDATE SET
        inviter_id = excluded.inviter_id, reasons = excluded.reasons, evidence = excluded.evidence,
        held_at = excluded.held_at, decision = NULL, decided_at = NULL, decided_by = NULL
    """,
    AT,
)

DECIDE_HOLD = sql.Statement(
    """
    UPDATE referral_holds SET decision = :decision, decided_at = :at, decided_by = :staff_id
    WHERE invitee_id = :invitee_id AND decision IS NULL
    """,
    AT,
)


class HoldRow(NamedTuple):
    invitee_id: int
    invitee_phone: str
    inviter_id: int
    inviter_phone: str | None
    reasons: str
    evidence: str
    held_at: datetime


# The queue: referrals held now, oldest first (the partial index of unqualified referrals finds them).
HELD = sql.Statement(
    """
    SELECT h.invitee_id, invitee.phone, h.inviter_id, inviter.phone, h.reasons, h.evidence, h.held_at
    FROM users AS invitee
    JOIN referral_holds AS h ON h.invitee_id = invitee.id
    LEFT JOIN users AS inviter ON inviter.id = h.inviter_id
    WHERE invitee.referral_state = 'held'
    ORDER BY h.held_at, h.invitee_id
    LIMIT :limit
    """,
    column_types={"held_at": UTCDateTime()},
)

HOLD_OF = sql.Statement(
    """
    SELECT h.invitee_id, invitee.phone, h.inviter_id, inviter.phone, h.reasons, h.evidence, h.held_at
    FROM referral_holds AS h
    JOIN users AS invitee ON invitee.id = h.invitee_id
    LEFT JOIN users AS inviter ON inviter.id = h.inviter_id
    WHERE h.invitee_id = :invitee_id
    """,
    column_types={"held_at": UTCDateTime()},
)


class FootprintRow(NamedTuple):
    seen_at: datetime
    kind: str
    network: str | None
    agent_hash: str | None
    device_id: str | None


FOOTPRINTS_OF = sql.Statement(
    """
    SELECT seen_at, kind, network, agent_hash, device_id FROM footprints
    WHERE user_id = :user_id
    ORDER BY seen_at DESC, id DESC LIMIT :limit
    """,
    column_types={"seen_at": UTCDateTime()},
)

# The purge's batch of footprints older than the retention (``retention.FOOTPRINTS`` runs it).
PURGE_FOOTPRINTS = sql.Statement(
    """
    DELETE FROM footprints WHERE id IN (
        SELECT id FROM footprints WHERE seen_at < :before ORDER BY seen_at LIMIT :batch
    )
    RETURNING id
    """,
    {"before": UTCDateTime()},
)

# Decided holds whose evidence is past the retention: the reasons and the decision stay, the evidence goes.
PURGE_EVIDENCE = sql.Statement(
    """
    UPDATE referral_holds SET evidence = '{}'
    WHERE decided_at < :before AND evidence <> '{}'
    RETURNING invitee_id
    """,
    {"before": UTCDateTime()},
)


def record_footprint(
    user_id: int, kind: str, at: datetime, network: str | None, agent_hash: str | None, device_id: str | None
) -> None:
    params = {"user_id": user_id, "kind": kind, "at": at, "network": network}
    sql.run(NEW_FOOTPRINT, params | {"agent_hash": agent_hash, "device_id": device_id})


@dataclass(frozen=True)
class Ask:
    """What the evidence is asked about: this request's network and device, the periods each part reads."""

    network: str | None
    device_id: str | None
    now: datetime
    recent: int
    per_hour: int
    network_since: datetime
    device_since: datetime

    @classmethod
    def nothing(cls) -> Ask:
        """An ask every part answers with nothing (each rule that reads the record is off)."""
        now = clock.utcnow()
        return cls(None, None, now, recent=0, per_hour=0, network_since=now, device_since=now)

    def params(self, invitee_id: int | None) -> dict[str, Any]:
        return {
            "hour_ago": self.now - timedelta(hours=1),
            "day_ago": self.now - timedelta(days=1),
            "per_hour": self.per_hour,
            "invitee_id": invitee_id,
            "network": self.network,
            "device_id": self.device_id,
            "now": self.now,
            "since": min(self.network_since, self.device_since),
            "network_since": self.network_since,
            "device_since": self.device_since,
            "recent": self.recent,
        }


def evidence(invite_code: str, invitee_id: int | None, ask: Ask) -> list[EvidenceRow]:
    """What EVIDENCE finds about the owner of ``invite_code`` as the inviter of ``invitee_id``."""
    return [EvidenceRow(*row) for row in sql.run(EVIDENCE, ask.params(invitee_id) | {"invite_code": invite_code})]


def evidence_of_json(found: list[list[Any]] | None) -> list[EvidenceRow]:
    """EVIDENCE_JSON's array as rows (PostgreSQL writes each time with its offset)."""
    return [EvidenceRow(kind, value, datetime.fromisoformat(at).astimezone(UTC)) for kind, value, at in found or ()]


def hold(invitee_id: int, inviter_id: int, reasons: str, evidence_json: str, at: datetime) -> None:
    """The referral of ``invitee_id`` held for review: its hold, and its state."""
    params = {"invitee_id": invitee_id, "inviter_id": inviter_id, "reasons": reasons, "evidence": evidence_json}
    sql.run(NEW_HOLD, params | {"at": at})
    sql.run(MARK_HELD, {"invitee_id": invitee_id, "at": at})


def decide(invitee_id: int, decision: str, staff_id: int | None, at: datetime) -> None:
    sql.run(DECIDE_HOLD, {"invitee_id": invitee_id, "decision": decision, "staff_id": staff_id, "at": at})


def held(limit: int) -> list[HoldRow]:
    return [HoldRow(*row) for row in sql.run(HELD, {"limit": limit})]


def hold_of(invitee_id: int) -> HoldRow | None:
    rows = sql.run(HOLD_OF, {"invitee_id": invitee_id})
    return HoldRow(*rows[0]) if rows else None


def footprints_of(user_id: int, limit: int = 20) -> list[FootprintRow]:
    return [FootprintRow(*row) for row in sql.run(FOOTPRINTS_OF, {"user_id": user_id, "limit": limit})]


def purge_evidence(before: datetime) -> int:
    return len(sql.run(PURGE_EVIDENCE, {"before": before}))


REQUEST_QUALIFY = sql.Statement(
    """
    UPDATE referral_holds SET qualify_requested_at = :at
    WHERE invitee_id = :invitee_id AND decision IS NULL AND qualify_requested_at IS NULL
    """,
    AT,
)

QUALIFY_REQUESTED = sql.Statement(
    "SELECT qualify_requested_at IS NOT NULL FROM referral_holds WHERE invitee_id = :invitee_id"
)


def request_qualify(invitee_id: int, at: datetime) -> None:
    """Remember that the programme's backend reported the qualifying action while the referral was held."""
    sql.run(REQUEST_QUALIFY, {"invitee_id": invitee_id, "at": at})


def qualify_requested(invitee_id: int) -> bool:
    rows = sql.run(QUALIFY_REQUESTED, {"invitee_id": invitee_id})
    return bool(rows and rows[0][0])


TRUST = sql.Statement(
    """
    INSERT INTO trusted_inviters (user_id, trusted_at, trusted_by, reason)
    VALUES (:user_id, :at, :staff_id, :reason)
    ON CONFLICT (user_id) DO UPDATE SET
        trusted_at = excluded.trusted_at, trusted_by = excluded.trusted_by, reason = excluded.reason
    """,
    AT,
)

DISTRUST = sql.Statement("DELETE FROM trusted_inviters WHERE user_id = :user_id RETURNING user_id")


class TrustRow(NamedTuple):
    user_id: int
    phone: str
    trusted_at: datetime
    trusted_by: int | None
    reason: str


TRUST_OF = sql.Statement(
    """
    SELECT t.user_id, u.phone, t.trusted_at, t.trusted_by, t.reason
    FROM trusted_inviters AS t JOIN users AS u ON u.id = t.user_id
    WHERE t.user_id = :user_id
    """,
    column_types={"trusted_at": UTCDateTime()},
)

TRUSTED = sql.Statement(
    """
    SELECT t.user_id, u.phone, t.trusted_at, t.trusted_by, t.reason
    FROM trusted_inviters AS t JOIN users AS u ON u.id = t.user_id
    ORDER BY t.trusted_at DESC, t.user_id DESC LIMIT :limit
    """,
    column_types={"trusted_at": UTCDateTime()},
)


def trust(user_id: int, staff_id: int | None, reason: str, at: datetime) -> None:
    sql.run(TRUST, {"user_id": user_id, "staff_id": staff_id, "reason": reason, "at": at})


def distrust(user_id: int) -> bool:
    return bool(sql.run(DISTRUST, {"user_id": user_id}))


def trust_of(user_id: int) -> TrustRow | None:
    rows = sql.run(TRUST_OF, {"user_id": user_id})
    return TrustRow(*rows[0]) if rows else None


def trusted(limit: int) -> list[TrustRow]:
    return [TrustRow(*row) for row in sql.run(TRUSTED, {"limit": limit})]

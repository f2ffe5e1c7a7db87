"""The staff's audit log (``audit_log``): written once per action, read newest first; never updated or deleted
(a trigger refuses both, migration 0008)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from referral.infra import sql
from referral.infra.models import UTCDateTime

RECORD = sql.Statement(
    """
    INSERT INTO audit_log (at, staff_id, staff_phone, action, subject_id, subject_phone, reason, address, details)
    VALUES (:at, :staff_id, :staff_phone, :action, :subject_id, :subject_phone, :reason, :address, :details)
    RETURNING id
    """,
    {"at": UTCDateTime()},
)


class AuditRow(NamedTuple):
    id: int
    at: datetime
    staff_phone: str
    action: str
    subject_id: int | None
    subject_phone: str | None
    reason: str | None
    address: str | None
    details: str


COLUMNS = {"at": UTCDateTime()}

# Newest first, a keyset page of the entries before the entry :before.
LATEST = sql.Statement(
    """
    SELECT id, at, staff_phone, action, subject_id, subject_phone, reason, address, details FROM audit_log
    WHERE id < :before
    ORDER BY id DESC LIMIT :limit
    """,
    column_types=COLUMNS,
)

ABOUT_SUBJECT = sql.Statement(
    """
    SELECT id, at, staff_phone, action, subject_id, subject_phone, reason, address, details FROM audit_log
    WHERE subject_id = :subject_id
    ORDER BY at DESC, id DESC LIMIT :limit
    """,
    column_types=COLUMNS,
)


def record(
    at: datetime,
    staff_id: int,
    staff_phone: str,
    action: str,
    subject_id: int | None,
    subject_phone: str | None,
    reason: str | None,
    address: str | None,
    details: str,
) -> int:
    params = {
        "at": at,
        "staff_id": staff_id,
        "staff_phone": staff_phone,
        "action": action,
        "subject_id": subject_id,
        "subject_phone": subject_phone,
        "reason": reason,
        "address": address,
        "details": details,
    }
    entry_id: int = sql.run(RECORD, params)[0][0]
    return entry_id


def latest(limit: int, before: int = sql.NEWEST_ID) -> list[AuditRow]:
    return [AuditRow(*row) for row in sql.run(LATEST, {"before": before, "limit": limit})]


def about(subject_id: int, limit: int) -> list[AuditRow]:
    return [AuditRow(*row) for row in sql.run(ABOUT_SUBJECT, {"subject_id": subject_id, "limit": limit})]

"""The purge of what grows with traffic: each statement deletes one batch of rows past their time, found by an
indexed column (oldest first), and returns their keys, so that a purge is many short transactions and never one
long one (``domain/maintenance.py`` runs them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from referral.infra import fraud_signals, sql
from referral.infra.models import UTCDateTime

BEFORE = {"before": UTCDateTime()}
# A finished delivery: delivered, or given up on (the end of the retry schedule, a 410); pending ones stay.
FINISHED = "('delivered', 'failed', 'disabled')"
FINISHED_DELIVERIES = f"""
    SELECT id FROM webhook_deliveries
    WHERE status IN {FINISHED} AND next_attempt_at <= :before
    ORDER BY next_attempt_at LIMIT :batch
"""


@dataclass(frozen=True)
class Purge:
    """What one batch deletes, and the statement (or statements, run in order) that delete it."""

    name: str
    statements: tuple[sql.Statement, ...]

    def run(self, before: datetime, batch: int) -> int:
        """Delete up to ``batch`` rows older than ``before``, in the caller's transaction; how many."""
        *first, counted = self.statements
        for statement in first:
            sql.run(statement, {"before": before, "batch": batch})
        return len(sql.run(counted, {"before": before, "batch": batch}))


LOGIN_CODES = Purge(
    "login codes",
    (
        sql.Statement(
            """
            DELETE FROM login_codes WHERE id IN (
                SELECT id FROM login_codes WHERE expires_at <= :before ORDER BY expires_at LIMIT :batch
            )
            RETURNING id
            """,
            BEFORE,
        ),
    ),
)

# Sessions past their refresh token's lifetime, by expires_at; and signed-out ones (revoked_at, its partial
# index holds only those).
EXPIRED_SESSIONS = Purge(
    "expired sessions",
    (
        sql.Statement(
            """
            DELETE FROM sessions WHERE id IN (
                SELECT id FROM sessions WHERE expires_at <= :before ORDER BY expires_at LIMIT :batch
            )
            RETURNING id
            """,
            BEFORE,
        ),
    ),
)

REVOKED_SESSIONS = Purge(
    "revoked sessions",
    (
        sql.Statement(
            """
            DELETE FROM sessions WHERE id IN (
                SELECT id FROM sessions WHERE revoked_at IS NOT NULL AND revoked_at <= :before
                ORDER BY revoked_at LIMIT :batch
            )
            RETURNING id
            """,
            BEFORE,
        ),
    ),
)

SMS_SENDS = Purge(
    "SMS records",
    (
        sql.Statement(
            """
            DELETE FROM sms_sends WHERE id IN (
                SELECT id FROM sms_sends WHERE sent_at <= :before ORDER BY sent_at LIMIT :batch
            )
            RETURNING id
            """,
            BEFORE,
        ),
    ),
)

# A phone's record of wrong codes once it holds nothing: no run of failures, no lock still to serve.
PHONE_LOCKOUTS = Purge(
    "phone lockouts",
    (
        sql.Statement(
            """
            DELETE FROM phone_lockouts WHERE phone IN (
                SELECT phone FROM phone_lockouts
                WHERE failures = 0 AND (locked_until IS NULL OR locked_until <= :before) LIMIT :batch
            )
            RETURNING phone
            """,
            BEFORE,
        ),
    ),
)

# Console sessions that can no longer sign anyone in: ``before`` is the idle cut-off (the lifetime is longer).
CONSOLE_SESSIONS = Purge(
    "console sessions",
    (
        sql.Statement(
            """
            DELETE FROM console_sessions WHERE id IN (
                SELECT id FROM console_sessions WHERE last_seen_at <= :before LIMIT :batch
            )
            RETURNING id
            """,
            BEFORE,
        ),
    ),
)

# Finished deliveries past the webhook retention, their attempts first (SQLite's cascade needs no help, but the
# statement says what goes); then the events that have no delivery left.
WEBHOOK_DELIVERIES = Purge(
    "webhook deliveries",
    (
        sql.Statement(
            f"DELETE FROM webhook_attempts WHERE delivery_id IN ({FINISHED_DELIVERIES})",
            BEFORE,
        ),
        sql.Statement(
            f"DELETE FROM webhook_deliveries WHERE id IN ({FINISHED_DELIVERIES}) RETURNING id",
            BEFORE,
        ),
    ),
)

WEBHOOK_EVENTS = Purge(
    "webhook events",
    (
        sql.Statement(
            """
            DELETE FROM webhook_events WHERE id IN (
                SELECT e.id FROM webhook_events AS e
                WHERE e.created_at <= :before
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries AS d WHERE d.event_id = e.id)
                ORDER BY e.created_at LIMIT :batch
            )
            RETURNING id
            """,
            BEFORE,
        ),
    ),
)

# The fraud rules' footprints past FRAUD_SIGNALS_DAYS (their statement is the fraud rules' own).
FOOTPRINTS = Purge("footprints", (fraud_signals.PURGE_FOOTPRINTS,))

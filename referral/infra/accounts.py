"""The ``users`` table as accounts: read by session or by phone, created, renamed, moved to another phone,
deleted. Reads select from the ``accounts`` view (migration 0005), which names an account's columns once: the
user, the invite code they entered, their referral count (the sum of their ``referral_counts`` rows).

Reading an account is the query every authenticated request makes: on PostgreSQL one statement brings the
session's liveness, the account and the phones of its newest referrals (an array); SQLite, which has no
arrays, reads those phones in a second statement (``docs/design.md``, "The hot read path").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError

from referral.infra import fraud_signals, sessions, sql
from referral.infra.database import dialect_name
from referral.infra.models import UTCDateTime
from referral.infra.referral_lists import newest_referral_phones
from referral.infra.referral_tree import Count, InviterGone

TIMESTAMPS = {"invited_at": UTCDateTime(), "created_at": UTCDateTime()}
NOW = {"now": UTCDateTime()}


# An account read is a row of the accounts view's columns, in its order (id, phone, invite_code, first_name,
# last_name, activated_invite_code, invited_at, referrals_count, created_at, qualified_referrals_count), and with
# the newest referrals' phones when they were asked for.
AccountRow = tuple[Any, ...]


ACCOUNT_OF_SESSION = sql.Statement(
    """
    SELECT a.*
    FROM sessions AS s JOIN accounts AS a ON a.id = s.user_id
    WHERE s.id = :session_id AND s.revoked_at IS NULL AND s.expires_at > :now
    """,
    NOW,
    TIMESTAMPS,
)

ACCOUNT_OF_SESSION_WITH_REFERRALS = sql.Statement(
    """
    SELECT a.*,
           ARRAY(SELECT r.phone FROM users AS r WHERE r.invited_by_id = a.id
                 ORDER BY r.invited_at DESC, r.id DESC LIMIT :referrals) AS newest_referrals
    FROM sessions AS s JOIN accounts AS a ON a.id = s.user_id
    WHERE s.id = :session_id AND s.revoked_at IS NULL AND s.expires_at > :now
    """,
    NOW,
    TIMESTAMPS,
)

ACCOUNT_OF_PHONE = sql.Statement(
    """
    SELECT a.* FROM accounts AS a WHERE a.phone = :phone
    """,
    column_types=TIMESTAMPS,
)

ACCOUNT_OF_PHONE_WITH_REFERRALS = sql.Statement(
    """
    SELECT a.*,
           ARRAY(SELECT r.phone FROM users AS r WHERE r.invited_by_id = a.id
                 ORDER BY r.invited_at DESC, r.id DESC LIMIT :referrals) AS newest_referrals
    FROM accounts AS a WHERE a.phone = :phone
    """,
    column_types=TIMESTAMPS,
)

ACCOUNT_OF_ID = sql.Statement(
    """
    SELECT a.* FROM accounts AS a WHERE a.id = :user_id
    """,
    column_types=TIMESTAMPS,
)

# A new user; no row if the phone has one already or the invite code drawn is taken.
NEW_USER = sql.Statement(
    """
    INSERT INTO users (phone, invite_code, first_name, last_name, invited_by_id, invited_at, created_at)
    VALUES (:phone, :own_code, '', '', NULL, NULL, :now)
    ON CONFLICT DO NOTHING
    RETURNING id, invited_by_id, NULL
    """,
    NOW,
)

# A new user invited by the owner of :invite_code (typed in any case: the invite_codes view), with that code as
# it was issued; no row either if nobody has it.
NEW_INVITED_USER = sql.Statement(
    """
    INSERT INTO users (phone, invite_code, first_name, last_name, invited_by_id, invited_at, invite_channel,
                       referral_state, referral_state_at, created_at)
    SELECT :phone, :own_code, '', '', inviter.id, :now, :channel, :state, :now, :now FROM users AS inviter
    WHERE inviter.id = (SELECT id FROM users WHERE invite_code = :invite_code
                        UNION ALL SELECT id FROM invite_codes WHERE folded = upper(:invite_code) AND sharing = 1
                        LIMIT 1)
      AND inviter.blocked_at IS NULL
    ON CONFLICT DO NOTHING
    RETURNING id, invited_by_id,
              (SELECT inviter.invite_code FROM users AS inviter WHERE inviter.id = users.invited_by_id)
    """,
    NOW,
)

# NEW_USER with the new user's first session (and its footprint) in the same statement (sessions.
# FIRST_SESSION_CTES): a sign-up's user and session in one round trip (PostgreSQL; SQLite, which has no INSERT
# inside WITH, inserts the session after the user). No session either when no user is inserted.
NEW_USER_SIGNED_IN = sql.Statement(
    f"""
    WITH new_user AS (
        INSERT INTO users (phone, invite_code, first_name, last_name, invited_by_id, invited_at, created_at)
        VALUES (:phone, :own_code, '', '', NULL, NULL, :now)
        ON CONFLICT DO NOTHING
        RETURNING id, invited_by_id
    ),
    {sessions.FIRST_SESSION_CTES}
    SELECT id, invited_by_id, NULL FROM new_user
    """,
    NOW | {"expires_at": UTCDateTime()},
)

# NEW_INVITED_USER_SIGNED_IN, returning as well the fraud rules' evidence about the inviter it found, as JSON
# (fraud_signals.EVIDENCE_JSON: PostgreSQL; SQLite reads fraud_signals.EVIDENCE first), and the inviter's phone.
# The referral is written in :state, its state if the rules find nothing, and counted so on the inviter's count
# row :slot (:qualified), last in the transaction as the count must be (its row stays locked until the commit);
# held, a statement after corrects both (referral_tree.HOLD_COUNTED_REFERRAL).
NEW_INVITED_USER_SIGNED_IN_WITH_EVIDENCE = sql.Statement(
    f"""
    WITH inviter AS (
        SELECT id, phone FROM users
        WHERE id = (SELECT id FROM users WHERE invite_code = :invite_code
                    UNION ALL SELECT id FROM invite_codes WHERE folded = upper(:invite_code) AND sharing = 1
                    LIMIT 1)
          AND blocked_at IS NULL
    ),
    {fraud_signals.EVIDENCE_CTES},
    new_user AS (
        INSERT INTO users (phone, invite_code, first_name, last_name, invited_by_id, invited_at, invite_channel,
                           referral_state, referral_state_at, created_at)
        SELECT :phone, :own_code, '', '', inviter.id, :now, :channel, :state, :now, :now FROM inviter
        ON CONFLICT DO NOTHING
        RETURNING id, invited_by_id,
                  (SELECT code.invite_code FROM users AS code WHERE code.id = users.invited_by_id) AS inviter_code
    ),
    counted AS (
        INSERT INTO referral_counts (user_id, slot, referrals, qualified)
        SELECT invited_by_id, :slot, 1, :qualified FROM new_user
        ON CONFLICT (user_id, slot) DO UPDATE SET referrals = referral_counts.referrals + 1,
                                                  qualified = referral_counts.qualified + excluded.qualified
    ),
    {sessions.FIRST_SESSION_CTES}
    SELECT id, invited_by_id, inviter_code, {fraud_signals.EVIDENCE_JSON}, (SELECT phone FROM inviter) FROM new_user
    """,
    NOW | fraud_signals.EVIDENCE_PARAMETERS | {"expires_at": UTCDateTime()},
)

RENAME = sql.Statement(
    """
    UPDATE users SET first_name = COALESCE(:first_name, first_name), last_name = COALESCE(:last_name, last_name)
    WHERE id = :user_id
    RETURNING id
    """
)

MOVE_TO_PHONE = sql.Statement("UPDATE users SET phone = :phone WHERE id = :user_id RETURNING id")

USER_OF_PHONE = sql.Statement("SELECT id FROM users WHERE phone = :phone")

DETACH_REFERRALS = sql.Statement(
    """
    UPDATE users SET invited_by_id = NULL, invited_at = NULL, invite_channel = NULL,
                     referral_state = NULL, referral_state_at = NULL
    WHERE invited_by_id = :user_id
    RETURNING id
    """
)

DELETE_USER = sql.Statement("DELETE FROM users WHERE id = :user_id RETURNING invited_by_id, referral_state")


class PhoneInUse(Exception):
    """Another account has the phone."""


def account_of_session(session_id: str, now: datetime, referrals: int = 0) -> AccountRow | None:
    """The account signed in by a live session; with ``referrals``, the phones of that many newest referrals."""
    return _account(
        (ACCOUNT_OF_SESSION, ACCOUNT_OF_SESSION_WITH_REFERRALS), {"session_id": session_id, "now": now}, referrals
    )


def account_of_phone(phone: str, referrals: int = 0) -> AccountRow | None:
    """The account of ``phone``, if there is one (``referrals`` as for ``account_of_session``)."""
    return _account((ACCOUNT_OF_PHONE, ACCOUNT_OF_PHONE_WITH_REFERRALS), {"phone": phone}, referrals)


def account_of_id(user_id: int) -> AccountRow | None:
    rows = sql.run(ACCOUNT_OF_ID, {"user_id": user_id})
    return rows[0] if rows else None


def _account(
    statements: tuple[sql.Statement, sql.Statement], params: dict[str, Any], referrals: int
) -> AccountRow | None:
    with_array = referrals > 0 and dialect_name() == "postgresql"
    rows = sql.read(statements[with_array], {**params, "referrals": referrals})
    if not rows:
        return None
    account = rows[0]
    if referrals > 0 and not with_array:
        account += (newest_referral_phones(account[0], referrals),)
    return account


class Counted(NamedTuple):
    """How the sign-up's statement counted its referral on the inviter's count, and the inviter's phone."""

    as_counted: Count
    inviter_phone: str


class Inserted(NamedTuple):
    user_id: int
    inviter_id: int | None
    inviter_code: str | None  # as issued, whatever case it was typed in
    evidence: list[fraud_signals.EvidenceRow]  # about the inviter, if asked
    signed_in: bool = False  # whether the session asked for was started with the user
    counted: Counted | None = None  # if the statement counted the referral


def insert_user(
    phone: str,
    own_code: str,
    now: datetime,
    invite_code: str | None = None,
    channel: str = "code_at_signup",
    state: str = "qualified",
    ask: fraud_signals.Ask | None = None,
    session: sessions.NewSession | None = None,
    count: Count | None = None,
) -> Inserted | None:
    """Insert a user (invited by the owner of ``invite_code`` through ``channel``, the referral in ``state``, if
    given), with the fraud evidence ``ask``ed about the inviter and, on PostgreSQL, the user's first ``session``
    started and the referral counted as ``count`` says in the same statement (``Inserted.signed_in`` and
    ``Inserted.counted``; the caller counts it otherwise); ``None`` if the phone or the drawn code is taken, or
    nobody has the code."""
    params = {"phone": phone, "own_code": own_code, "now": now, "invite_code": invite_code, "channel": channel}
    params["state"] = state
    found: list[fraud_signals.EvidenceRow] = []
    postgresql = dialect_name() == "postgresql"
    # Every statement that starts the session is PostgreSQL's; of an invited user, only the one with evidence.
    signed_in = session is not None and postgresql and (invite_code is None or ask is not None)
    if session is not None and signed_in:
        params |= session.params()
    try:
        if invite_code is None:
            inserted = sql.run(NEW_USER_SIGNED_IN if signed_in else NEW_USER, params)
        elif ask is None:
            inserted = sql.run(NEW_INVITED_USER, params)
        elif postgresql:
            if not signed_in:
                raise ValueError("the evidence is read by the sign-up's statement, which starts its session")
            if count is None or count.hold is not None:
                raise ValueError("the sign-up's statement counts the referral as an honest one stands")
            counting = {"slot": count.slot, "qualified": count.qualified}
            inserted = sql.run(NEW_INVITED_USER_SIGNED_IN_WITH_EVIDENCE, params | ask.params(None) | counting)
            if inserted:
                found = fraud_signals.evidence_of_json(inserted[0][3])
                user_id, inviter_id, inviter_code, _, inviter_phone = inserted[0]
                return Inserted(user_id, inviter_id, inviter_code, found, signed_in, Counted(count, inviter_phone))
        else:
            found = fraud_signals.evidence(invite_code, None, ask)
            inserted = sql.run(NEW_INVITED_USER, params)
    except IntegrityError:  # only the foreign key can fail: the inviter it read was deleted before its check
        raise InviterGone from None
    if not inserted:
        return None
    return Inserted(inserted[0][0], inserted[0][1], inserted[0][2], found, signed_in)


def rename(user_id: int, first_name: str | None, last_name: str | None) -> bool:
    """Set the names given (``None`` leaves one as it is); whether the user exists."""
    return bool(sql.run(RENAME, {"user_id": user_id, "first_name": first_name, "last_name": last_name}))


def move_to_phone(user_id: int, phone: str) -> bool:
    """Give the user ``phone``; whether the user exists. ``PhoneInUse`` if another account has it."""
    try:
        return bool(sql.run(MOVE_TO_PHONE, {"user_id": user_id, "phone": phone}))
    except IntegrityError:
        raise PhoneInUse from None


def user_of_phone(phone: str) -> int | None:
    rows = sql.run(USER_OF_PHONE, {"phone": phone})
    return rows[0][0] if rows else None


def detach_referrals(user_id: int) -> list[int]:
    """Make the users ``user_id`` invited nobody's referral; their ids."""
    return sorted(user for (user,) in sql.run(DETACH_REFERRALS, {"user_id": user_id}))


def delete_user(user_id: int) -> tuple[int | None, str | None]:
    """Delete the user (their sessions, codes, counts, footprints and rewards go with them: foreign keys
    cascade); who invited them, and where that referral stood."""
    deleted = sql.run(DELETE_USER, {"user_id": user_id})
    return (deleted[0][0], deleted[0][1]) if deleted else (None, None)


BLOCK = sql.Statement("UPDATE users SET blocked_at = :now WHERE id = :user_id AND blocked_at IS NULL RETURNING id", NOW)
UNBLOCK = sql.Statement(
    "UPDATE users SET blocked_at = NULL WHERE id = :user_id AND blocked_at IS NOT NULL RETURNING id"
)


def block(user_id: int, now: datetime) -> bool:
    """Block the user; whether they were not blocked already."""
    return bool(sql.run(BLOCK, {"user_id": user_id, "now": now}))


def unblock(user_id: int) -> bool:
    return bool(sql.run(UNBLOCK, {"user_id": user_id}))

"""The referral tree in ``users`` (each user's ``invited_by_id``) and the counts in ``referral_counts``: chains of
inviters, the tree locks, the activation, the counts.

Why the locks are enough to keep the tree free of loops, and why counts are split over rows: ``docs/design.md``,
"Activations and the tree locks" and "The referral counts".
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError

from referral.infra import fraud_signals, sql
from referral.infra.database import dialect_name
from referral.infra.models import UTCDateTime


class Member(NamedTuple):
    """A user in a chain of inviters, with their invite code as it was issued."""

    id: int
    phone: str
    invite_code: str


class InviterGone(Exception):
    """The inviter was deleted before the statement checked its foreign key."""


# The owner of :invite_code (its exact spelling, one index probe; else, typed in another case, the one code that
# fits: the invite_codes view, migration 0006) and every inviter above them, nearest first. A blocked owner's
# code is nobody's (here, in OWNER_OF_INVITE_CODE and in accounts.NEW_INVITED_USER).
CHAIN_OF_INVITE_CODE = sql.Statement(
    """
    WITH RECURSIVE chain (id, invited_by_id, phone, invite_code, depth) AS (
        SELECT id, invited_by_id, phone, invite_code, 0 FROM users
        WHERE id = (SELECT id FROM users WHERE invite_code = :invite_code
                    UNION ALL SELECT id FROM invite_codes WHERE folded = upper(:invite_code) AND sharing = 1
                    LIMIT 1)
          AND blocked_at IS NULL
        UNION ALL
        SELECT u.id, u.invited_by_id, u.phone, u.invite_code, chain.depth + 1
        FROM users AS u JOIN chain ON u.id = chain.invited_by_id
    )
    SELECT id, phone, invite_code FROM chain ORDER BY depth
    """
)

# CHAIN_OF_INVITE_CODE for an activation of :user_id into that chain, with in the same statement (PostgreSQL)
# the tree locks it needs, :user_id's tree exclusively and the chain's root shared, in ascending order of their
# keys, and the fraud rules' evidence about the chain's first member as :user_id's inviter, as JSON on that
# member's row (fraud_signals.EVIDENCE_JSON). A tree's key is the first 8 bytes of the SHA-256 of
# "referral-tree:<root id>" (``tree_lock_key``). The chain is read when the statement begins, before any wait:
# the activation reads it again under the locks.
CHAIN_WITH_EVIDENCE_LOCKING = sql.Statement(
    f"""
    WITH RECURSIVE chain (id, invited_by_id, phone, invite_code, depth) AS (
        SELECT id, invited_by_id, phone, invite_code, 0 FROM users
        WHERE id = (SELECT id FROM users WHERE invite_code = :invite_code
                    UNION ALL SELECT id FROM invite_codes WHERE folded = upper(:invite_code) AND sharing = 1
                    LIMIT 1)
          AND blocked_at IS NULL
        UNION ALL
        SELECT u.id, u.invited_by_id, u.phone, u.invite_code, chain.depth + 1
        FROM users AS u JOIN chain ON u.id = chain.invited_by_id
    ),
    trees (tree, shared) AS (
        SELECT CAST(:user_id AS BIGINT), false
        UNION ALL
        SELECT id, true FROM chain WHERE invited_by_id IS NULL AND id <> :user_id
    ),
    keyed (shared, key) AS (
        SELECT shared,
               ('x' || encode(substr(sha256(convert_to('referral-tree:' || tree, 'UTF8')), 1, 8), 'hex'))
                   ::bit(64)::bigint
        FROM trees
    ),
    locks AS MATERIALIZED (
        SELECT CASE WHEN shared THEN pg_advisory_xact_lock_shared(key) ELSE pg_advisory_xact_lock(key) END
        FROM keyed ORDER BY key
    ),
    inviter AS (SELECT id FROM chain WHERE depth = 0),
    {fraud_signals.EVIDENCE_CTES}
    SELECT id, phone, invite_code, CASE WHEN depth = 0 THEN {fraud_signals.EVIDENCE_JSON} END AS evidence
    FROM chain WHERE (SELECT count(*) FROM locks) > 0 ORDER BY depth
    """,
    fraud_signals.EVIDENCE_PARAMETERS,
)

# The activation, under the tree locks: only if :user_id has no inviter yet, and the inviter's chain (read by this
# statement, so after the locks) does not hold :user_id and still ends at :root. No row otherwise.
ACTIVATE = sql.Statement(
    """
    WITH RECURSIVE chain (id, invited_by_id) AS (
        SELECT id, invited_by_id FROM users WHERE id = :inviter_id
        UNION ALL
        SELECT u.id, u.invited_by_id FROM users AS u JOIN chain ON u.id = chain.invited_by_id
    )
    UPDATE users SET invited_by_id = :inviter_id, invited_at = :now, invite_channel = :channel,
                     referral_state = :state, referral_state_at = :now
    WHERE users.id = :user_id AND users.invited_by_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM chain WHERE chain.id = :user_id)
      AND EXISTS (SELECT 1 FROM chain WHERE chain.id = :root AND chain.invited_by_id IS NULL)
    RETURNING id
    """,
    {"now": UTCDateTime()},
)

# ACTIVATE, and in the same statement (PostgreSQL) the new referral counted on the inviter's count row :slot (with
# :qualified of it qualified) and, when :reasons is not empty, its hold for review (the state :held is then set by
# the UPDATE itself): one round trip, and still the last before the commit, as the count must be (its row stays
# locked until then). Nothing is counted when the activation writes nothing. SQLite, which has no INSERT inside
# WITH, runs ACTIVATE and then COUNT_REFERRAL and fraud_signals.hold.
ACTIVATE_COUNTED = sql.Statement(
    """
    WITH RECURSIVE chain (id, invited_by_id) AS (
        SELECT id, invited_by_id FROM users WHERE id = :inviter_id
        UNION ALL
        SELECT u.id, u.invited_by_id FROM users AS u JOIN chain ON u.id = chain.invited_by_id
    ),
    activated AS (
        UPDATE users SET invited_by_id = :inviter_id, invited_at = :now, invite_channel = :channel,
                         referral_state = :state, referral_state_at = :now
        WHERE users.id = :user_id AND users.invited_by_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM chain WHERE chain.id = :user_id)
          AND EXISTS (SELECT 1 FROM chain WHERE chain.id = :root AND chain.invited_by_id IS NULL)
        RETURNING id
    ),
    held AS (
        INSERT INTO referral_holds (invitee_id, inviter_id, reasons, evidence, held_at)
        SELECT id, :inviter_id, :reasons, :evidence, :now FROM activated WHERE :reasons <> ''
        ON CONFLICT (invitee_id) DO UPDATE SET
            inviter_id = excluded.inviter_id, reasons = excluded.reasons, evidence = excluded.evidence,
            held_at = excluded.held_at, decision = NULL, decided_at = NULL, decided_by = NULL
    )
    INSERT INTO referral_counts (user_id, slot, referrals, qualified)
    SELECT :inviter_id, :slot, 1, :qualified FROM activated
    ON CONFLICT (user_id, slot) DO UPDATE SET referrals = referral_counts.referrals + excluded.referrals,
                                              qualified = referral_counts.qualified + excluded.qualified
    RETURNING user_id
    """,
    {"now": UTCDateTime()},
)

# One more (with :change -1, one fewer) referral on one of the inviter's count rows, and :qualified more qualified
# ones; the inviter's phone.
COUNT_REFERRAL = sql.Statement(
    """
    INSERT INTO referral_counts (user_id, slot, referrals, qualified) VALUES (:inviter_id, :slot, :change, :qualified)
    ON CONFLICT (user_id, slot) DO UPDATE SET referrals = referral_counts.referrals + excluded.referrals,
                                              qualified = referral_counts.qualified + excluded.qualified
    RETURNING (SELECT phone FROM users WHERE users.id = referral_counts.user_id)
    """
)

# A held referral's hold for review (a second hold of one invitee, after an undo, replaces the first) and its state
# held, as the CTEs of the statement that counts it.
HOLD_CTES = """
    WITH held AS (
        INSERT INTO referral_holds (invitee_id, inviter_id, reasons, evidence, held_at)
        VALUES (:invitee_id, :inviter_id, :reasons, :evidence, :at)
        ON CONFLICT (invitee_id) DO UPDATE SET
            inviter_id = excluded.inviter_id, reasons = excluded.reasons, evidence = excluded.evidence,
            held_at = excluded.held_at, decision = NULL, decided_at = NULL, decided_by = NULL
    ),
    state AS (UPDATE users SET referral_state = 'held', referral_state_at = :at WHERE id = :invitee_id)
"""

# COUNT_REFERRAL for a referral the fraud rules held, with its hold for review and its state held (an invited
# sign-up wrote the user before the rules judged), in one round trip (PostgreSQL; SQLite, which has no INSERT
# inside WITH, runs COUNT_REFERRAL and fraud_signals.hold's two statements).
COUNT_HELD_REFERRAL = sql.Statement(
    f"""
    {HOLD_CTES}
    INSERT INTO referral_counts (user_id, slot, referrals, qualified) VALUES (:inviter_id, :slot, :change, 0)
    ON CONFLICT (user_id, slot) DO UPDATE SET referrals = referral_counts.referrals + excluded.referrals
    RETURNING (SELECT phone FROM users WHERE users.id = referral_counts.user_id)
    """,
    {"at": UTCDateTime()},
)

# A referral its sign-up's statement counted as an honest one stands (accounts.NEW_INVITED_USER_SIGNED_IN_WITH_
# EVIDENCE) that the fraud rules then held: its hold for review, its state held, and its count row's qualified
# share taken back (:qualified, what the sign-up added), in one round trip (PostgreSQL only).
HOLD_COUNTED_REFERRAL = sql.Statement(
    f"""
    {HOLD_CTES}
    UPDATE referral_counts SET qualified = qualified - :qualified WHERE user_id = :inviter_id AND slot = :slot
    """,
    {"at": UTCDateTime()},
)

LOCK_TREE = sql.Statement("SELECT pg_advisory_xact_lock(:key)")
LOCK_TREE_SHARED = sql.Statement("SELECT pg_advisory_xact_lock_shared(:key)")


class CodeOwner(NamedTuple):
    """Whoever has an invite code, as the invite page greets them."""

    id: int
    phone: str
    invite_code: str
    first_name: str
    last_name: str


OWNER_OF_INVITE_CODE = sql.Statement(
    """
    SELECT id, phone, invite_code, first_name, last_name FROM users
    WHERE id = (SELECT id FROM users WHERE invite_code = :invite_code
                UNION ALL SELECT id FROM invite_codes WHERE folded = upper(:invite_code) AND sharing = 1
                LIMIT 1)
      AND blocked_at IS NULL
    """
)

INVITER_OF = sql.Statement(
    """
    SELECT inviter.id, inviter.phone, inviter.invite_code FROM users
    JOIN users AS inviter ON inviter.id = users.invited_by_id
    WHERE users.id = :user_id
    """
)

INVITE_CODE_OF = sql.Statement("SELECT invite_code FROM users WHERE id = :user_id")

INVITED_BY = sql.Statement("SELECT invited_by_id FROM users WHERE id = :user_id")


def chain_of_invite_code(invite_code: str) -> list[Member]:
    """The owner of ``invite_code`` and every inviter above them, nearest first (empty if nobody has it)."""
    return [Member(*row) for row in sql.run(CHAIN_OF_INVITE_CODE, {"invite_code": invite_code})]


def chain_to_join(
    invite_code: str, user_id: int, ask: fraud_signals.Ask | None
) -> tuple[list[Member], list[fraud_signals.EvidenceRow]]:
    """The chain of ``invite_code`` for an activation of ``user_id``, with the tree locks the activation needs
    taken and the fraud evidence ``ask``ed about its owner (none if ``ask`` is ``None``): one round trip on
    PostgreSQL. SQLite, which runs one writer at a time, needs no lock, and reads the evidence after the chain."""
    if dialect_name() != "postgresql":
        chain = chain_of_invite_code(invite_code)
        return chain, fraud_signals.evidence(invite_code, user_id, ask) if chain and ask else []
    params = (ask or fraud_signals.Ask.nothing()).params(user_id) | {"invite_code": invite_code, "user_id": user_id}
    rows = sql.run(CHAIN_WITH_EVIDENCE_LOCKING, params)
    chain = [Member(*row[:3]) for row in rows]
    return chain, fraud_signals.evidence_of_json(rows[0][3]) if rows and ask else []


def chain_of_user(user_id: int) -> list[Member]:
    """``user_id`` and every inviter above them, nearest first (empty if there is no such user): the chain of
    their own code (two statements; the paths that ask are rare, and the chain is then written once)."""
    rows = sql.run(INVITE_CODE_OF, {"user_id": user_id})
    return chain_of_invite_code(rows[0][0]) if rows else []


def lock_trees(exclusive: set[int], shared: set[int]) -> None:
    """Until the transaction ends, hold the locks of the trees rooted at ``exclusive`` and ``shared``, in
    ascending order of their keys (PostgreSQL; SQLite runs one writer at a time). Only when a tree's root moved
    under an activation: the first locks come with the chain (CHAIN_WITH_EVIDENCE_LOCKING)."""
    if dialect_name() != "postgresql":
        return
    for key, is_shared in sorted([(tree_lock_key(root), root in shared) for root in exclusive | shared]):
        sql.run(LOCK_TREE_SHARED if is_shared else LOCK_TREE, {"key": key})


def tree_lock_key(root_id: int) -> int:
    """The advisory lock key of the tree rooted at ``root_id`` (CHAIN_WITH_EVIDENCE_LOCKING computes it in SQL)."""
    digest = hashlib.sha256(f"referral-tree:{root_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def activate(
    user_id: int,
    inviter_id: int,
    root: int,
    at: datetime,
    channel: str,
    state: str,
    count: Count,
) -> bool:
    """Make ``inviter_id`` the inviter of ``user_id`` (through ``channel``, the referral in ``state``) if the
    rules still hold under the locks (see ACTIVATE), and count the referral as ``count`` says (on PostgreSQL in
    the same statement); whether it did. ``InviterGone`` if the inviter was deleted meanwhile."""
    params = {"user_id": user_id, "inviter_id": inviter_id, "root": root, "now": at, "channel": channel}
    params["state"] = state
    try:
        if dialect_name() == "postgresql":
            hold = count.hold
            held = {"reasons": hold.reasons, "evidence": hold.evidence} if hold else {"reasons": "", "evidence": "{}"}
            return bool(sql.run(ACTIVATE_COUNTED, params | held | {"slot": count.slot, "qualified": count.qualified}))
        if not sql.run(ACTIVATE, params):
            return False
    except IntegrityError:  # only the foreign key can fail
        raise InviterGone from None
    count_referral(inviter_id, count.slot, 1, count.qualified, count.hold)
    return True


class Hold(NamedTuple):
    """A referral held for review: whose, why (comma-separated reasons), the evidence (JSON), since when."""

    invitee_id: int
    reasons: str
    evidence: str
    at: datetime


class Count(NamedTuple):
    """How an activation counts its referral: on the inviter's count row ``slot``, ``qualified`` (1) or not (0),
    with its ``hold`` for review if it is held."""

    slot: int
    qualified: int
    hold: Hold | None = None


def count_referral(inviter_id: int, slot: int, change: int = 1, qualified: int = 0, hold: Hold | None = None) -> str:
    """Add ``change`` to the inviter's count row ``slot``, and ``qualified`` to its qualified share, with the
    referral's ``hold`` for review if it is held; the inviter's phone."""
    params = {"inviter_id": inviter_id, "slot": slot, "change": change, "qualified": qualified}
    if hold is None:
        phone: str = sql.run(COUNT_REFERRAL, params)[0][0]
        return phone
    if dialect_name() == "postgresql":
        phone = sql.run(COUNT_HELD_REFERRAL, params | hold._asdict())[0][0]
        return phone
    phone = sql.run(COUNT_REFERRAL, params)[0][0]
    fraud_signals.hold(hold.invitee_id, inviter_id, hold.reasons, hold.evidence, hold.at)
    return phone


def hold_counted(inviter_id: int, count: Count, hold: Hold) -> None:
    """Hold a referral already counted as ``count`` (honest) on the inviter's count (PostgreSQL)."""
    params = {"inviter_id": inviter_id, "slot": count.slot, "qualified": count.qualified}
    sql.run(HOLD_COUNTED_REFERRAL, params | hold._asdict())


def owner_of_invite_code(invite_code: str) -> CodeOwner | None:
    rows = sql.run(OWNER_OF_INVITE_CODE, {"invite_code": invite_code})
    return CodeOwner(*rows[0]) if rows else None


def inviter_of(user_id: int) -> Member | None:
    rows = sql.run(INVITER_OF, {"user_id": user_id})
    return Member(*rows[0]) if rows else None


class Invitation(NamedTuple):
    invited_by_id: int | None


def invitation_of(user_id: int) -> Invitation | None:
    """Whether ``user_id`` exists, and who invited them."""
    rows = sql.run(INVITED_BY, {"user_id": user_id})
    return Invitation(rows[0][0]) if rows else None


# Undo one referral (staff): only while :user_id is still the referral of :inviter_id.
DETACH = sql.Statement(
    """
    UPDATE users SET invited_by_id = NULL, invited_at = NULL, invite_channel = NULL,
                     referral_state = NULL, referral_state_at = NULL
    WHERE id = :user_id AND invited_by_id = :inviter_id
    RETURNING id
    """
)


def detach(user_id: int, inviter_id: int) -> bool:
    """Whether ``user_id`` was ``inviter_id``'s referral (and is no longer)."""
    return bool(sql.run(DETACH, {"user_id": user_id, "inviter_id": inviter_id}))

"""What staff do about a user in the console: find them, open them (recorded, since it shows the whole phone),
end their sessions, lift their phone's lockout, block, detach, delete, export. Each action commits with its one
audit entry; an action that destroys something needs a reason (``ReasonRequired``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from referral import clock
from referral.domain import account, defences, events, fraud, invites, rewards, sessions
from referral.domain.errors import DeletionNotConfirmed, UserNotFound
from referral.domain.staff import ConsoleStaff, audit_entries_about, given_reason, record
from referral.extensions import db
from referral.infra import accounts, phone_defences, referral_states, referral_tree, sql, user_directory
from referral.infra.audit_log import AuditRow
from referral.infra.fraud_signals import TrustRow
from referral.infra.user_directory import Listed, UserRecord

PAGE_SIZE = 50
EVER = datetime(1970, 1, 1, tzinfo=UTC)
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Search:
    """What staff typed and chose: ``text`` (any part of a phone, an invite code, any part of a name),
    ``invited`` (True, False or None for either), an inviter's id, and a range of sign-up instants."""

    text: str = ""
    invited: bool | None = None
    invited_by: int | None = None
    joined_from: datetime | None = None
    joined_until: datetime | None = None


SHORTEST_TEXT = 3  # fewer characters match too many people to be a search (and no trigram index serves them)


def find_users(search: Search, before: int | None = None, limit: int = PAGE_SIZE) -> list[Listed]:
    """A page of the users that match, newest first, after the user ``before`` of the page shown (none for a
    text shorter than ``SHORTEST_TEXT``)."""
    invited = -1 if search.invited is None else int(search.invited)
    text = search.text.strip()
    if 0 < len(text) < SHORTEST_TEXT:
        return []
    return user_directory.search(
        text,
        invited,
        search.invited_by or 0,
        search.joined_from or EVER,
        search.joined_until or NEVER,
        limit,
        before if before is not None else sql.NEWEST_ID,
    )


@dataclass(frozen=True)
class UserFile:
    """One user as the console shows them."""

    user: UserRecord
    inviters: list[referral_tree.Member]  # nearest first, up to the root
    devices: list[sessions.Device]
    codes_sent: list[phone_defences.SendRow]
    locked_until: datetime | None
    audit: list[AuditRow]
    tree: list[tuple[int, int]]  # (depth, people at it) below the user, at most TREE_CAP people counted
    tree_depth: int
    events: list[tuple[str, str, datetime]]  # (id, type, when) of the webhook events naming them, recent first
    trust: TrustRow | None = None  # trusted as an inviter with a burst of referrals: since when, by whom, why


TREE_DEPTHS = (1, 2, 3, 5, 10)
TREE_CAP = 100_000
EVENTS_DAYS = 30  # the events about a user are looked for this far back (a scan of the outbox's recent rows)


def open_user(staff: ConsoleStaff, user_id: int, tree_depth: int = 1) -> UserFile:
    """Everything about ``user_id``; opening it is recorded (it shows the whole phone number)."""
    found = user_directory.user(user_id)
    if found is None:
        raise UserNotFound
    record(staff, "user.viewed", found.id, found.phone)
    db.session.commit()
    locked_until = phone_defences.lockout_of(found.phone)
    if locked_until is not None and locked_until <= clock.utcnow():
        locked_until = None
    return UserFile(
        user=found,
        inviters=referral_tree.chain_of_user(found.id)[1:],
        devices=sessions.devices(found.id, None),
        codes_sent=phone_defences.sends_of_phone(found.phone),
        locked_until=locked_until,
        audit=audit_entries_about(found.id),
        tree=_tree_below(found, tree_depth),
        tree_depth=tree_depth,
        events=user_directory.events_about(found.id, clock.utcnow() - timedelta(days=EVENTS_DAYS), 20),
        trust=fraud.trust_of(found.id),
    )


def _tree_below(found: UserRecord, depth: int) -> list[tuple[int, int]]:
    """People at each depth below the user; the first level is their referral count (no scan of their tree)."""
    if depth == 1:
        return [(1, found.referrals_count)] if found.referrals_count else []
    return user_directory.tree_below(found.id, depth, TREE_CAP)


def _subject(user_id: int) -> UserRecord:
    found = user_directory.user(user_id)
    if found is None:
        raise UserNotFound
    return found


def revoke_sessions(staff: ConsoleStaff, user_id: int, reason: str | None) -> None:
    """End every session of the user (each device signs in again)."""
    reason = given_reason(reason)
    found = _subject(user_id)
    sessions.revoke_user_sessions(found.id)
    record(staff, "user.sessions_revoked", found.id, found.phone, reason)
    db.session.commit()


def end_session(staff: ConsoleStaff, user_id: int, session_id: str, reason: str | None) -> None:
    """End one session of the user (``SessionNotFound`` if it is not theirs or not live)."""
    reason = given_reason(reason)
    found = _subject(user_id)
    sessions.revoke_user_session(found.id, session_id)
    record(staff, "user.session_revoked", found.id, found.phone, reason, session=session_id)
    db.session.commit()


def lift_lockout(staff: ConsoleStaff, user_id: int, reason: str | None = None) -> bool:
    """End the lockout of the user's phone now; whether it was locked (an entry is written either way)."""
    found = _subject(user_id)
    lifted = defences.lift_lockout(found.phone, clock.utcnow())
    record(staff, "user.lockout_lifted", found.id, found.phone, reason, was_locked=lifted)
    db.session.commit()
    return lifted


def block(staff: ConsoleStaff, user_id: int, reason: str | None) -> bool:
    """Block the user: their sessions end, they cannot sign in, and their invite code is nobody's until they are
    unblocked; whether they were not blocked already."""
    reason = given_reason(reason)
    found = _subject(user_id)
    blocked = accounts.block(found.id, clock.utcnow())
    sessions.revoke_user_sessions(found.id)
    record(staff, "user.blocked", found.id, found.phone, reason, was_blocked=not blocked)
    db.session.commit()
    return blocked


def unblock(staff: ConsoleStaff, user_id: int, reason: str | None = None) -> bool:
    """Undo ``block``: they may sign in again and their code is theirs again (their ended sessions stay ended)."""
    found = _subject(user_id)
    unblocked = accounts.unblock(found.id)
    record(staff, "user.unblocked", found.id, found.phone, reason, was_blocked=unblocked)
    db.session.commit()
    return unblocked


def undo_referral(staff: ConsoleStaff, user_id: int, reason: str | None) -> bool:
    """Detach the user from their inviter: the inviter counts one referral fewer, ``referral.revoked`` is
    emitted, and the user may enter another code. Whether they had an inviter."""
    reason = given_reason(reason)
    found = _subject(user_id)
    inviter = referral_tree.inviter_of(found.id)
    standing = referral_states.standing(found.id)
    if inviter is None or not referral_tree.detach(found.id, inviter.id):
        db.session.rollback()
        return False
    was_qualified = standing is not None and standing.state == "qualified"
    invites.count_referral(inviter.id, change=-1, qualified=-1 if was_qualified else 0)
    rewards.settle_for_voided(found.id, clock.utcnow())  # its unfulfilled rewards go with it
    named = events.person(inviter.id, inviter.phone, inviter.invite_code)
    events.referral_revoked(events.person(found.id, found.phone), named, inviter.invite_code, clock.utcnow())
    record(staff, "referral.revoked", found.id, found.phone, reason, inviter=inviter.id)
    db.session.commit()
    return True


def delete_user(staff: ConsoleStaff, user_id: int, reason: str | None, typed_phone: str) -> int:
    """Delete the user as ``flask users delete`` does (their referrals detached, ``user.deleted`` emitted), once
    their whole phone is typed again, the audit entry committed with it; how many referrals were detached."""
    reason = given_reason(reason)
    subject = account.account_by_id(user_id)
    if subject is None:
        raise UserNotFound
    if "".join(filter(str.isdigit, typed_phone)) != subject.phone.removeprefix("+"):
        raise DeletionNotConfirmed
    record(staff, "user.deleted", subject.id, subject.phone, reason, referrals=subject.referrals_count)
    return account.delete_account(subject)  # commits the deletion and the entry together


EXPORT_PAGE = 1000


def export_users(staff: ConsoleStaff, search: Search) -> Iterator[Listed]:
    """Every user that matches ``search``, newest first, read a page at a time; the export is recorded (with
    its filters) before the first row."""
    record(staff, "users.exported", **asdict(search))
    db.session.commit()
    before: int | None = None
    while page := find_users(search, before, EXPORT_PAGE):
        yield from page
        before = page[-1].id

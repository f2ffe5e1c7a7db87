"""What must hold under load: one winner per code, a fixed number of queries, index-served lookups."""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text

from referral.domain import rewards
from referral.extensions import db
from referral.infra.models import REFERRAL_COUNT_SLOTS, AuthSession, ReferralCount, User
from tests.conftest import ip_of, run_together

TOKEN = "/api/v1/auth/token"
INVITE = "/api/v1/profile/invite"
REFERRALS = "/api/v1/profile/referrals"


@pytest.mark.committing
def test_one_code_exchanged_from_many_threads_signs_in_exactly_once(app, api, postgres_only):
    code = api.request_code("+79991234567")

    def exchange():
        return app.test_client().post(TOKEN, json={"phone": "+79991234567", "code": code}).status_code

    statuses = run_together(*[exchange] * 8)
    assert sorted(statuses) == [201] + [401] * 7
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert db.session.scalar(select(func.count()).select_from(AuthSession)) == 1


@pytest.mark.committing
def test_concurrent_code_requests_for_one_phone_send_one_code(app, postgres_only):
    def ask():
        return app.test_client().post("/api/v1/auth/code", json={"phone": "+79991234567"}).status_code

    statuses = run_together(*[ask] * 6)
    assert sorted(statuses) == [202] + [429] * 5


@pytest.mark.committing
def test_concurrent_code_requests_past_the_hourly_cap_send_just_the_cap(app, postgres_only, clock):
    """Eight requests at once for one phone, with no resend interval and the clock stopped (so that no request
    is refused as too soon by another's newer code): the phone's lock makes them take turns, and each one's count
    of the sends (read in the statement that writes its own) holds every send before it."""
    app.config.update(OTP_RESEND_SECONDS=0, OTP_MAX_SENDS_PER_HOUR=3)

    def ask(n):
        client = app.test_client()

        def request():
            response = client.post(
                "/api/v1/auth/code", json={"phone": "+79991234567"}, environ_base=ip_of(f"+7999000{n:04d}")
            )
            return response.status_code, (response.json or {}).get("code")

        return request

    answers = run_together(*[ask(n) for n in range(8)])
    assert sorted(answers, key=lambda answer: answer[0]) == [(202, None)] * 3 + [(429, "rate_limited")] * 5
    assert db.session.scalar(text("SELECT count(*) FROM sms_sends WHERE phone = '+79991234567'")) == 3


@pytest.mark.committing
def test_a_campaigns_concurrent_sign_ups_are_each_counted_once(app, api, postgres_only):
    """Sign-ups entering one code at once: the inviter's count, split over rows they seldom share, is exact."""
    inviter = api.sign_in("+79990000000")
    bodies = []
    for n in range(12):
        phone = f"+7999100{n:04d}"
        bodies.append({"phone": phone, "code": api.request_code(phone), "invite_code": inviter["user"]["invite_code"]})

    def sign_up(body):
        return lambda: app.test_client().post(TOKEN, json=body, environ_base=ip_of(body["phone"])).status_code

    assert run_together(*[sign_up(body) for body in bodies]) == [201] * 12
    assert api.profile(inviter)["referrals_count"] == 12
    rows = db.session.scalars(select(ReferralCount.referrals).where(ReferralCount.user_id == inviter["user"]["id"]))
    assert 1 < len(rows.all()) <= REFERRAL_COUNT_SLOTS


@pytest.mark.committing
def test_a_sign_up_whose_inviter_is_deleted_under_it_finds_no_code(app, api, postgres_only):
    """The inviter's deletion commits while the sign-up's insert waits to check its foreign key: a 404, and
    nothing of the sign-up is kept (its code may be spent again)."""
    inviter = api.sign_in("+79990000000")
    code = api.request_code("+79990000001")
    body = {"phone": "+79990000001", "code": code, "invite_code": inviter["user"]["invite_code"]}
    response = while_deleting(inviter["user"]["id"], lambda: app.test_client().post(TOKEN, json=body))
    assert response.status_code == 404
    assert response.json["code"] == "invite_code_not_found"
    again = app.test_client().post(TOKEN, json={"phone": "+79990000001", "code": code})
    assert again.status_code == 201


@pytest.mark.committing
def test_an_activation_whose_inviter_is_deleted_under_it_finds_no_code(app, api, postgres_only):
    inviter, user = api.sign_in("+79990000000"), api.sign_in("+79990000001")
    body = {"invite_code": inviter["user"]["invite_code"]}
    response = while_deleting(
        inviter["user"]["id"], lambda: app.test_client().post(INVITE, headers=user["headers"], json=body)
    )
    assert (response.status_code, response.json["code"]) == (404, "invite_code_not_found")
    assert api.profile(user)["invited_at"] is None


def while_deleting(user_id: int, request: Callable[[], Any]) -> Any:
    """``request``'s response, made in a thread while another transaction deletes ``user_id``: the deletion
    commits once the request waits for a lock (the deleted row's, which it holds)."""
    with db.engine.connect() as deleting:
        deleting.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})  # not committed yet
        result: list[Any] = []
        requesting = threading.Thread(target=lambda: result.append(request()))
        requesting.start()
        for _ in range(300):
            waiting = deleting.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            ).scalar()
            if waiting:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the request never waited for the deleted row")
        deleting.commit()
        requesting.join(30)
    return result[0]


def test_a_profile_is_one_query_whatever_the_number_of_referrals(client, api, user_factory, queries):
    owner = api.sign_in("+79990000000")
    invited = api.sign_in("+79990000001", invite_code=owner["user"]["invite_code"])
    row = db.session.get(User, owner["user"]["id"])
    for _ in range(150):
        user_factory.invited_by(row)
    for tokens in (owner, invited):
        sent = queries.during(lambda: client.get("/api/v1/profile", headers=tokens["headers"]))  # noqa: B023
        # the live session, its user, the code they entered and the newest referrals; SQLite has no arrays,
        # so there the referrals are a second query
        assert len(sent) == (1 if db.engine.dialect.name == "postgresql" else 2), sent


def test_a_referral_page_is_one_query_with_its_session_check(client, api, user_factory, queries):
    owner = api.sign_in("+79990000000")
    row = db.session.get(User, owner["user"]["id"])
    for _ in range(60):
        user_factory.invited_by(row)
    first = queries.during(lambda: client.get(REFERRALS, headers=owner["headers"]))
    cursor = client.get(REFERRALS, headers=owner["headers"]).json["next_cursor"]
    following = queries.during(lambda: client.get(REFERRALS, headers=owner["headers"], query_string={"cursor": cursor}))
    # the session, the owner's count and the page's rows, on both dialects
    assert len(first) == len(following) == 1, (first, following)


def test_writes_that_answer_a_profile_read_the_account_once(client, api, queries):
    owner = api.sign_in("+79990000000")
    user = api.sign_in("+79990000001")
    names = queries.during(
        lambda: client.patch("/api/v1/profile", headers=user["headers"], json={"first_name": "Boris"})
    )
    # the account with its session, the update, the newest referrals (SQLite also says BEGIN IMMEDIATE)
    assert [statement.split()[0] for statement in names if not statement.startswith("BEGIN")] == [
        "SELECT",
        "UPDATE",
        "SELECT",
    ]
    body = {"invite_code": owner["user"]["invite_code"]}
    invite = queries.during(lambda: client.post(INVITE, headers=user["headers"], json=body))
    account_reads = [statement for statement in invite if "FROM sessions" in statement or "sessions.id" in statement]
    assert len(account_reads) == 1, invite


def first_words(statements):
    """Each statement as its first words (what it does and to which table), SQLite's BEGIN IMMEDIATE left out."""
    words = []
    for statement in statements:
        if statement.startswith("BEGIN"):
            continue
        parts = statement.replace("(", " ").split()
        words.append(" ".join(parts[:3] if parts[0] in ("INSERT", "WITH") else parts[:2]).removesuffix("_shared"))
    return words


def test_a_sign_up_with_an_invite_code_is_two_statements(client, api, postgres_only, queries):
    """The campaign path: the code spent, then the user inserted with their inviter (returning the fraud rules'
    evidence about the inviter), their first session with its footprint, and the referral on the inviter's
    count, as an honest one stands. With BEGIN and COMMIT, four round trips (six before the fraud rules, five
    before the count joined the insert); no tree lock (nobody can have entered a new user's code)."""
    inviter = api.sign_in("+79990000000")
    code = api.request_code("+79990000001")
    body = {"phone": "+79990000001", "code": code, "invite_code": inviter["user"]["invite_code"]}
    rewards.active_rules()  # each process keeps the rules in force a few seconds: not read per request
    sent = queries.during(lambda: client.post(TOKEN, json=body))
    assert first_words(sent) == [
        "UPDATE login_codes",
        "WITH inviter AS",  # the user and their session, and the evidence: the inviter's newest referrals and more
    ], sent
    assert "INSERT INTO users" in sent[1] and "INSERT INTO sessions" in sent[1] and "json_agg" in sent[1]
    # the inviter's count, in the last statement before the commit: its row stays locked until then
    assert "INSERT INTO referral_counts" in sent[1]


def test_a_sign_up_is_two_statements_and_a_sign_in_three(client, api, postgres_only, queries):
    """The code spent, then the user with their first session and its footprint; an existing user's sign-in
    tries the insert, reads the account and starts the session."""
    code = api.request_code("+79990000001")
    sent = queries.during(lambda: client.post(TOKEN, json={"phone": "+79990000001", "code": code}))
    assert first_words(sent) == ["UPDATE login_codes", "WITH new_user AS"], sent
    assert "INSERT INTO sessions" in sent[1] and "INSERT INTO footprints" in sent[1]
    code = api.request_code("+79990000001")
    sent = queries.during(lambda: client.post(TOKEN, json={"phone": "+79990000001", "code": code}))
    assert first_words(sent) == ["UPDATE login_codes", "WITH new_user AS", "SELECT a.*,", "WITH started AS"], sent


def test_a_code_request_is_two_statements(client, postgres_only, queries):
    """The phone's lock with its lockout, then the code with its send record and the sends the per-phone caps
    count (``RATELIMIT_ENABLED``, as here): with BEGIN and COMMIT, four round trips (six before the code and its
    send were one statement). The lock comes first, in a statement of its own: the count's snapshot is taken
    after it is granted."""
    sent = queries.during(lambda: client.post("/api/v1/auth/code", json={"phone": "+79990000001"}))
    # then the tests' memory sender delivers in the request and records it (a worker's work in production)
    assert first_words(sent) == ["SELECT pg_advisory_xact_lock", "WITH code AS", "UPDATE sms_sends"], sent
    assert "INSERT INTO login_codes" in sent[1] and "INSERT INTO sms_sends" in sent[1] and "count(*)" in sent[1]


def test_an_activation_is_three_statements(client, api, postgres_only, queries):
    """The account with its newest referrals, the inviter's chain from the code with the two tree locks and the
    fraud rules' evidence, the activation (which reads the chain again under the locks, sets the referral's
    state and counts it on the inviter's count, last): five round trips with BEGIN and COMMIT, one fewer than
    before the fraud rules."""
    inviter = api.sign_in("+79990000000")
    user = api.sign_in("+79990000001")
    body = {"invite_code": inviter["user"]["invite_code"]}
    rewards.active_rules()  # kept by the process, as above
    sent = queries.during(lambda: client.post(INVITE, headers=user["headers"], json=body))
    assert first_words(sent) == ["SELECT a.*,", "WITH RECURSIVE chain", "WITH RECURSIVE chain"], sent
    assert "pg_advisory_xact_lock" in sent[1] and "json_agg" in sent[1]
    assert "UPDATE users SET invited_by_id" in sent[2] and "INSERT INTO referral_counts" in sent[2]


def plan(sql, **params):
    rows = db.session.execute(text("EXPLAIN " + sql), params).scalars().all()
    return "\n".join(rows)


@pytest.fixture
def many_users(postgres_only, user_factory):
    """Enough rows, analysed, that PostgreSQL would rather scan than use a useless index."""
    db.session.execute(
        text(
            "INSERT INTO users (phone, invite_code, created_at) "
            "SELECT '+7901' || lpad(n::text, 7, '0'), lpad(to_hex(n), 6, 'x'), now() FROM generate_series(1, 20000) n"
        )
    )
    db.session.execute(
        text(
            "UPDATE users SET invited_by_id = (SELECT min(id) FROM users), invited_at = now() "
            "WHERE id > (SELECT min(id) FROM users) AND id % 2 = 0"
        )
    )
    db.session.execute(text("ANALYZE users"))


def test_the_referral_list_is_read_from_its_index(many_users):
    sql = (
        "SELECT id, phone FROM users WHERE invited_by_id = :owner "
        "AND (invited_at, id) < (now(), 1000000) ORDER BY invited_at DESC, id DESC LIMIT 51"
    )
    text_plan = plan(sql, owner=1)
    assert "ix_users_referrals" in text_plan
    assert "Seq Scan" not in text_plan


def test_the_invite_code_lookup_uses_its_unique_index(many_users):
    text_plan = plan("SELECT id FROM users WHERE invite_code = :code", code="Zy8WqP")
    assert "uq_users_invite_code" in text_plan
    assert "Seq Scan" not in text_plan


@pytest.mark.committing
def test_api_reads_outside_a_transaction_answer_the_same_and_writes_keep_theirs(
    client, api, postgres_only, autocommit_reads_on, clock, queries
):
    owner = api.sign_in("+79990000000")
    api.sign_in("+79990000001", invite_code=owner["user"]["invite_code"])
    start = len(queries.outside_transaction)
    for _ in range(3):
        db.session.close()  # the test client shares the test's session; a real request starts without one
        profile = client.get("/api/v1/profile", headers=owner["headers"])
        assert profile.status_code == 200
        assert profile.json["referrals"] == ["+79990000001"]
        db.session.close()
        assert client.get("/api/v1/profile/referrals", headers=owner["headers"]).json["count"] == 1
        assert client.patch("/api/v1/profile", headers=owner["headers"], json={"first_name": "Anna"}).status_code == 200
    # on the autocommit engine: per round, the profile and the referral page (1 query each); no PATCH
    assert len(queries.outside_transaction) - start == 3 * (1 + 1)
    # a failing sign-in still rolls back whole after all those reads
    clock.advance(seconds=60)
    code = api.request_code("+79990000002")
    body = {"phone": "+79990000002", "code": code, "invite_code": "ZZZZZZ"}
    assert client.post("/api/v1/auth/token", json=body).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(User)) == 2

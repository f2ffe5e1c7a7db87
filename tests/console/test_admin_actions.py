"""What only admins may do in the console: block and unblock, undo a referral, delete, export; each with its
reason and its one audit entry, and what the blocked person meets in the API and on the pages."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from referral.extensions import db
from referral.infra.models import AuthSession, User
from tests.console.test_console import actions, admin, audit_count, support_agent  # noqa: F401  (fixtures)
from tests.web.test_pages import Browser

OWNER, FRIEND, OTHER = "+79995560001", "+79995560002", "+79995560003"


@pytest.fixture
def owner(api):
    """A user with a live session and an invite code, and a friend who entered it."""
    tokens = api.sign_in(OWNER)
    tokens["code"] = api.profile(tokens)["invite_code"]
    api.sign_in(FRIEND, invite_code=tokens["code"])
    tokens["id"] = tokens["user"]["id"]
    return tokens


def live_sessions(user_id: int) -> int:
    query = (
        select(func.count())
        .select_from(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    )
    return db.session.scalar(query)


@pytest.mark.parametrize(
    "action", ["block", "unblock", "referral/undo", "delete"], ids=["block", "unblock", "undo", "delete"]
)
def test_support_may_not_do_what_admins_do(support_agent, owner, action):  # noqa: F811
    before = audit_count()
    assert support_agent.post(f"/admin/users/{owner['id']}/{action}", reason="why not").status_code == 403
    assert audit_count() == before


def test_support_may_not_export(support_agent):  # noqa: F811
    assert support_agent.post("/admin/users.csv").status_code == 403


def test_a_blocked_user_is_signed_out_refused_and_their_code_is_nobodys(admin, owner, api, client, clock):  # noqa: F811
    assert admin.post(f"/admin/users/{owner['id']}/block", reason="").status_code == 302
    assert live_sessions(owner["id"]) == 1  # no reason: nothing done
    before = audit_count()
    admin.post(f"/admin/users/{owner['id']}/block", reason="fraud ring, ticket 9")
    assert audit_count() == before + 1 and actions()[-1] == "user.blocked"
    assert live_sessions(owner["id"]) == 0
    assert client.get("/api/v1/profile", headers=owner["headers"]).status_code == 401

    code = api.request_code(OWNER)
    refused = client.post("/api/v1/auth/token", json={"phone": OWNER, "code": code})
    assert refused.status_code == 403 and refused.json["code"] == "account_blocked"
    assert refused.headers["Content-Type"] == "application/problem+json"

    other = api.sign_in(OTHER)
    entered = client.post("/api/v1/profile/invite", json={"invite_code": owner["code"]}, headers=other["headers"])
    assert entered.status_code == 404 and entered.json["code"] == "invite_code_not_found"
    signup_code = api.request_code("+79995560004")
    joined = client.post(
        "/api/v1/auth/token", json={"phone": "+79995560004", "code": signup_code, "invite_code": owner["code"]}
    )
    assert joined.status_code == 404 and joined.json["code"] == "invite_code_not_found"
    assert Browser(client).get(f"/i/{owner['code']}").status_code == 404

    clock.advance(seconds=61)
    person = Browser(client, OWNER)
    page = person.sign_in()  # the pages say it in words
    assert page.status_code == 422 and "This account is blocked. Contact support." in page.text

    admin.post(f"/admin/users/{owner['id']}/unblock", reason="")
    assert actions()[-1] == "user.unblocked"
    clock.advance(seconds=61)
    assert api.sign_in(OWNER)["user"]["id"] == owner["id"]
    entered = client.post("/api/v1/profile/invite", json={"invite_code": owner["code"]}, headers=other["headers"])
    assert entered.status_code == 200


def test_undoing_a_referral_counts_one_fewer_and_lets_them_enter_another_code(admin, owner, api, client):  # noqa: F811
    friend = db.session.scalars(select(User).where(User.phone == FRIEND)).one()
    before = audit_count()
    admin.post(f"/admin/users/{friend.id}/referral/undo", reason="self-referral")
    assert audit_count() == before + 1 and actions()[-1] == "referral.revoked"
    assert api.profile(owner)["referrals_count"] == 0
    db.session.expire_all()
    assert db.session.get(User, friend.id).invited_by_id is None
    again = admin.post(f"/admin/users/{friend.id}/referral/undo", reason="twice")
    assert again.status_code == 302 and "has no inviter" in admin.get(f"/admin/users/{friend.id}").text
    tokens = api.sign_in(FRIEND)
    other = api.profile(api.sign_in(OTHER))["invite_code"]
    assert (
        client.post("/api/v1/profile/invite", json={"invite_code": other}, headers=tokens["headers"]).status_code == 200
    )


def test_deleting_a_user_asks_for_their_phone_again(admin, owner, api):  # noqa: F811
    before = audit_count()
    admin.post(f"/admin/users/{owner['id']}/delete", reason="asked to", confirm="+7 999 000-00-00")
    assert db.session.get(User, owner["id"]) is not None and audit_count() == before
    admin.post(f"/admin/users/{owner['id']}/delete", reason="asked to, ticket 3", confirm="+7 999 556-00-01")
    db.session.expire_all()
    assert db.session.get(User, owner["id"]) is None
    assert audit_count() == before + 1 and actions()[-1] == "user.deleted"
    friend = db.session.scalars(select(User).where(User.phone == FRIEND)).one()
    assert friend.invited_by_id is None


def test_admins_export_the_users_found_as_csv(admin, owner):  # noqa: F811
    before = audit_count()
    response = admin.post("/admin/users.csv", q="55600", invited="yes")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["phone"] for row in rows] == [FRIEND]
    assert audit_count() == before + 1 and actions()[-1] == "users.exported"

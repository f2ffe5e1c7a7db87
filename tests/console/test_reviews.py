"""The console's side of the programme: the review queue with the reasons and both sides' evidence, approving
and voiding (audited), rewards marked fulfilled by staff, reward rules edited by admins, the overview's figures."""

from __future__ import annotations

from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import Reward, User
from tests.conftest import ip_of
from tests.console.test_console import actions, admin, audit_count, support_agent  # noqa: F401  (fixtures)

INVITER, INVITEE = "+79161230000", "+79261239876"


def held_referral(api, client) -> tuple[dict, int]:
    """An inviter, and an invitee who signed up from the inviter's network: held."""
    inviter = api.sign_in(INVITER)
    code = api.request_code(INVITEE)
    body = {"phone": INVITEE, "code": code, "invite_code": inviter["user"]["invite_code"]}
    same_network = {"REMOTE_ADDR": ip_of(INVITER)["REMOTE_ADDR"].rsplit(".", 1)[0] + ".200"}
    assert client.post("/api/v1/auth/token", json=body, environ_base=same_network).status_code == 201
    invitee_id = db.session.scalars(select(User.id).where(User.phone == INVITEE)).one()
    return inviter, invitee_id


def state_of(user_id: int) -> str:
    db.session.expire_all()
    return db.session.get(User, user_id).referral_state


def test_the_queue_shows_the_reasons_and_both_sides(support_agent, api, client):  # noqa: F811
    _, invitee_id = held_referral(api, client)
    page = support_agent.get("/admin/reviews").text
    assert "Same network as the inviter" in page
    network = ip_of(INVITER)["REMOTE_ADDR"].rsplit(".", 1)[0] + ".0/24"
    assert page.count(f"<mark>{network}</mark>") >= 2  # on both sides, marked
    assert f"/admin/reviews/{invitee_id}/approve" in page and f"/admin/reviews/{invitee_id}/void" in page


def test_approving_qualifies_and_rewards_and_is_recorded(support_agent, api, client):  # noqa: F811
    from tests.programme.conftest import rule

    rule(kind="per_referral", label="credit")
    inviter, invitee_id = held_referral(api, client)
    assert db.session.scalars(select(Reward)).all() == []  # held: nothing earned
    before = audit_count()
    support_agent.post(f"/admin/reviews/{invitee_id}/approve", reason="")
    assert "Approved: the referral qualified." in support_agent.get("/admin/reviews").text
    assert state_of(invitee_id) == "qualified"
    assert audit_count() == before + 1 and actions()[-1] == "referral.approved"
    assert api.profile(inviter)["qualified_referrals_count"] == 1
    assert [r.label for r in db.session.scalars(select(Reward))] == ["credit"]
    support_agent.post(f"/admin/reviews/{invitee_id}/approve", reason="")  # twice: refused in words
    assert "no longer waiting for a review" in support_agent.get("/admin/reviews").text


def test_voiding_needs_a_reason_and_is_recorded(support_agent, api, client):  # noqa: F811
    _, invitee_id = held_referral(api, client)
    support_agent.post(f"/admin/reviews/{invitee_id}/void", reason="")
    assert state_of(invitee_id) == "held"
    support_agent.post(f"/admin/reviews/{invitee_id}/void", reason="two SIMs, one phone")
    assert state_of(invitee_id) == "voided" and actions()[-1] == "referral.voided"
    assert "Nothing is waiting for a review." in support_agent.get("/admin/reviews").text


def test_staff_mark_a_reward_fulfilled(support_agent, api):  # noqa: F811
    from tests.programme.conftest import rule

    rule(kind="per_referral", label="credit")
    inviter = api.sign_in(INVITER)
    api.sign_in(INVITEE, invite_code=inviter["user"]["invite_code"])
    reward = db.session.scalars(select(Reward)).one()
    assert "Mark fulfilled" in support_agent.get("/admin/rewards?status=earned").text
    support_agent.post(f"/admin/rewards/{reward.id}/fulfil", reason="paid by hand")
    db.session.expire_all()
    assert db.session.get(Reward, reward.id).status == "fulfilled" and actions()[-1] == "reward.fulfilled"
    listing = support_agent.get("/admin/rewards").text
    assert "<td>Fulfilled</td>" in listing and "<td>fulfilled" not in listing  # the status in words
    assert '<a href="/admin/rewards?status=earned">Earned</a>' in listing


def test_admins_edit_the_rules(admin, support_agent):  # noqa: F811
    form = {"kind": "milestone", "beneficiary": "inviter", "threshold": "5", "label": "Five", "amount": "500"}
    admin.post("/admin/rules", **form, unit="RUB")
    page = admin.get("/admin/rules").text
    assert "Five · 500 RUB" in page and "at 5 qualified referrals" in page and actions()[-1] == "reward_rule.added"
    admin.post("/admin/rules", kind="milestone", label="no threshold", amount="1", unit="p")
    assert "The rule is not complete" in admin.get("/admin/rules").text
    assert support_agent.post("/admin/rules", **form, unit="RUB").status_code == 403


def test_the_overview_counts_where_referrals_stand(admin, api, client):  # noqa: F811
    held_referral(api, client)
    page = admin.get("/admin/").text
    assert "Held for review" in page and 'href="/admin/reviews">1</a>' in page


def test_the_overviews_qualified_figure_is_the_roll_ups_once_one_has_run(admin, api):  # noqa: F811
    from referral.domain import programme

    def qualified_figure() -> str:
        page = admin.get("/admin/").text
        return page.split("Qualified<strong>", 1)[1].split("</strong>", 1)[0]

    inviter = api.sign_in(INVITER)
    api.sign_in(INVITEE, invite_code=inviter["user"]["invite_code"])
    assert qualified_figure() == "1"  # no roll-up yet: counted now
    programme.roll_up()
    api.sign_in("+79990000077", invite_code=inviter["user"]["invite_code"])
    assert qualified_figure() == "1"  # as of the roll-up, as its days are
    programme.roll_up()
    assert qualified_figure() == "2"


def test_an_admin_voids_a_qualified_referral_from_the_users_page(admin, api):  # noqa: F811
    from tests.programme.conftest import rule

    rule(kind="per_referral", label="credit")
    inviter = api.sign_in(INVITER)
    invitee = api.sign_in(INVITEE, invite_code=inviter["user"]["invite_code"])["user"]["id"]
    assert "Their referral stands: qualified." in admin.get(f"/admin/users/{invitee}").text
    admin.post(f"/admin/users/{invitee}/referral/void", reason="refund, ticket 12")
    assert state_of(invitee) == "voided" and actions()[-1] == "referral.voided"
    assert "1 unfulfilled rewards cancelled" in admin.get(f"/admin/users/{invitee}").text
    assert api.profile(inviter)["qualified_referrals_count"] == 0 and api.profile(inviter)["referrals_count"] == 1


def test_an_admin_trusts_an_inviter_with_a_campaign(admin, api, app):  # noqa: F811
    app.config["FRAUD_REFERRALS_PER_HOUR"] = 1
    inviter = api.sign_in(INVITER)
    inviter_id = inviter["user"]["id"]
    admin.post(f"/admin/users/{inviter_id}/trust", reason="")
    assert "Say why: the reason goes into the audit log." in admin.get(f"/admin/users/{inviter_id}").text
    admin.post(f"/admin/users/{inviter_id}/trust", reason="spring campaign with a blogger")
    page = admin.get(f"/admin/users/{inviter_id}").text
    assert "Trusted as an inviter since" in page and "spring campaign with a blogger" in page
    assert actions()[-2:] == ["inviter.trusted", "user.viewed"]
    code = inviter["user"]["invite_code"]
    invitees = [api.sign_in(phone, invite_code=code)["user"]["id"] for phone in ("+79261239876", "+79035551213")]
    assert [state_of(invitee) for invitee in invitees] == ["qualified", "qualified"]  # past 1 an hour, not held
    admin.post(f"/admin/users/{inviter_id}/distrust")
    assert "Trust with a burst of referrals" in admin.get(f"/admin/users/{inviter_id}").text
    assert "inviter.distrusted" in actions()
    third = api.sign_in("+79857770984", invite_code=code)["user"]["id"]
    assert state_of(third) == "held"

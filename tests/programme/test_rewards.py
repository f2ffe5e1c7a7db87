"""Rewards as data: per referral for the inviter, the invitee or both, milestones, caps; each earned once, under
replays and under 20 qualifications at once; voiding cancels the unfulfilled and flags the fulfilled."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from referral.domain import rewards
from referral.domain.errors import RewardRuleInvalid
from referral.extensions import db
from referral.infra.models import Reward, User
from tests.conftest import run_together
from tests.programme.conftest import rule


def rewards_of(user_id: int) -> list[tuple[str, str, int]]:
    db.session.expire_all()
    found = db.session.scalars(select(Reward).where(Reward.user_id == user_id).order_by(Reward.id)).all()
    return [(reward.label, reward.status, reward.amount) for reward in found]


def test_a_double_sided_rule_rewards_both(inviter, invite, events):
    rule(kind="per_referral", beneficiary="both", label="200 RUB credit", amount=200)
    invitee = invite(0)
    assert rewards_of(inviter["id"]) == [("200 RUB credit", "earned", 200)]
    assert rewards_of(invitee["id"]) == [("200 RUB credit", "earned", 200)]
    earned = [data["reward"] for _, data in events("reward.earned")]
    assert sorted(reward["user"]["id"] for reward in earned) == sorted([inviter["id"], invitee["id"]])
    assert all(reward["referral_id"] == invitee["id"] and reward["unit"] == "RUB" for reward in earned)


def test_nothing_is_earned_while_a_referral_is_pending(app, inviter, invite, programme):
    app.config["QUALIFY_REFERRALS"] = ("on_event", 0)
    rule(kind="per_referral", label="credit")
    invitee = invite(0)
    assert rewards_of(inviter["id"]) == []
    for _ in range(2):  # a replayed report earns nothing more
        programme.post(f"/referrals/{invitee['id']}/qualify")
    assert rewards_of(inviter["id"]) == [("credit", "earned", 100)]


def test_a_milestone_is_earned_once_and_the_profile_shows_the_next(client, inviter, invite):
    rule(kind="milestone", threshold=2, label="Bronze")
    rule(kind="milestone", threshold=4, label="Silver", amount=500)
    invite(0)
    mine = client.get("/api/v1/profile/rewards", headers=inviter["headers"]).json
    assert mine["rewards"] == [] and mine["qualified_referrals_count"] == 1
    assert mine["next_milestone"] == {
        "threshold": 2,
        "label": "Bronze",
        "amount": 100,
        "unit": "RUB",
        "qualified": 1,
        "remaining": 1,
    }
    invite(1)
    invite(2)
    assert rewards_of(inviter["id"]) == [("Bronze", "earned", 100)]  # at 2, not again at 3
    mine = client.get("/api/v1/profile/rewards", headers=inviter["headers"]).json
    assert [reward["label"] for reward in mine["rewards"]] == ["Bronze"]
    assert mine["next_milestone"]["label"] == "Silver" and mine["next_milestone"]["remaining"] == 1


def test_a_cap_counts_an_inviters_rewards_in_its_period(inviter, invite, clock):
    rule(kind="per_referral", label="credit", cap=2, cap_days=30)
    invite(0)
    invite(1)
    invite(2)
    assert len(rewards_of(inviter["id"])) == 2
    clock.advance(days=31)
    invite(3)
    assert len(rewards_of(inviter["id"])) == 3


def test_a_rule_switched_off_earns_nothing_more(runner, inviter, invite):
    rule_id = rule(kind="per_referral", label="credit")
    invite(0)
    assert runner.invoke(args=["rewards", "switch", str(rule_id), "off"]).exit_code == 0
    invite(1)
    assert len(rewards_of(inviter["id"])) == 1
    assert "off" in runner.invoke(args=["rewards", "rules"]).output


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "milestone", "label": "no threshold"},
        {"kind": "milestone", "threshold": 5, "beneficiary": "invitee", "label": "milestones are the inviter's"},
        {"kind": "per_referral", "threshold": 5, "label": "a threshold on a per-referral rule"},
        {"kind": "per_referral", "label": ""},
        {"kind": "per_referral", "label": "x", "amount": -1},
        {"kind": "per_referral", "label": "x", "cap": 3},
        {"kind": "bonus", "label": "x"},
    ],
)
def test_an_inconsistent_rule_is_refused_in_words(app, fields):
    with pytest.raises(RewardRuleInvalid):
        rule(**fields)


def test_the_cli_lists_and_adds_rules(runner):
    added = runner.invoke(
        args=["rewards", "add", "--kind", "milestone", "--threshold", "10", "--label", "Gold", "--amount", "1000"]
        + ["--unit", "points"]
    )
    assert added.exit_code == 0, added.output
    assert "Gold (1000 points): at 10 qualified" in runner.invoke(args=["rewards", "rules"]).output
    refused = runner.invoke(
        args=["rewards", "add", "--kind", "milestone", "--label", "x", "--amount", "1"] + ["--unit", "p"]
    )
    assert refused.exit_code != 0 and "milestone needs" in refused.output


def test_voiding_cancels_earned_rewards_and_flags_fulfilled_ones(inviter, invite, programme, events):
    rule(kind="per_referral", beneficiary="both", label="credit")
    invitee = invite(0)
    earned = programme.get("/rewards?status=earned").json["items"]
    assert len(earned) == 2
    inviters = next(reward for reward in earned if reward["user_id"] == inviter["id"])
    fulfilled = programme.post(f"/rewards/{inviters['id']}/fulfil")
    assert fulfilled.status_code == 200 and fulfilled.json["status"] == "fulfilled"
    assert programme.post(f"/rewards/{inviters['id']}/fulfil").json["status"] == "fulfilled"  # idempotent
    assert len(events("reward.fulfilled")) == 1
    voided = programme.post(f"/referrals/{invitee['id']}/void", json={"reason": "refund"}).json
    invitees = next(reward for reward in earned if reward["user_id"] == invitee["id"])
    assert voided["cancelled_rewards"] == [invitees["id"]]
    assert voided["flagged_rewards"] == [inviters["id"]]
    assert rewards_of(invitee["id"]) == [("credit", "cancelled", 100)]
    assert rewards_of(inviter["id"]) == [("credit", "fulfilled", 100)]  # paid: flagged for staff, not taken back
    assert [reward["id"] for reward in programme.get("/rewards?status=fulfilled").json["items"]] == [inviters["id"]]
    assert programme.get("/rewards?status=fulfilled").json["items"][0]["flagged"] is True
    assert [data["reward_id"] for _, data in events("reward.cancelled")] == [invitees["id"]]
    refused = programme.post(f"/rewards/{invitees['id']}/fulfil")
    assert refused.status_code == 409 and refused.json["code"] == "reward_cancelled"
    assert programme.post("/rewards/999999/fulfil").json["code"] == "reward_not_found"


def test_rewards_are_listed_a_page_at_a_time(inviter, invite, programme):
    rule(kind="per_referral", label="credit")
    for n in range(3):
        invite(n)
    first = programme.get("/rewards?limit=2").json
    assert len(first["items"]) == 2 and first["next_before"] == first["items"][-1]["id"]
    rest = programme.get(f"/rewards?limit=2&before={first['next_before']}").json
    assert len(rest["items"]) == 1 and rest["next_before"] is None


@pytest.mark.committing
def test_twenty_qualifications_at_once_earn_each_reward_once(app, api, postgres_only):
    """Twenty referrals of one inviter, each reported qualified by two racing calls at once: one referral reward
    each, and each milestone once, whatever the interleaving."""
    from referral.domain import api_keys

    app.config["QUALIFY_REFERRALS"] = ("on_event", 0)
    inviter = api.sign_in("+79991110000")
    invitees = [
        api.sign_in(f"+7916{n:03d}{n * 7919 % 10000:04d}", invite_code=inviter["user"]["invite_code"])["user"]["id"]
        for n in range(20)
    ]
    rule(kind="per_referral", label="credit")
    for threshold in (5, 10, 20):
        rule(kind="milestone", threshold=threshold, label=f"{threshold} friends")
    rewards.forget_rules()
    key = api_keys.create("billing").key

    def qualify(invitee_id):
        return lambda: (
            app.test_client()
            .post(f"/api/v1/programme/referrals/{invitee_id}/qualify", headers={"X-API-Key": key})
            .status_code
        )

    assert run_together(*[qualify(invitee_id) for invitee_id in invitees * 2]) == [200] * 40
    db.session.expire_all()
    labels = db.session.execute(
        select(Reward.label, func.count()).where(Reward.user_id == inviter["user"]["id"]).group_by(Reward.label)
    ).all()
    assert dict(labels) == {"credit": 20, "5 friends": 1, "10 friends": 1, "20 friends": 1}
    assert api.profile(inviter)["qualified_referrals_count"] == 20


def test_the_profile_page_shows_states_rewards_and_the_next_milestone(client, api):
    from tests.web.test_pages import Browser

    rule(kind="per_referral", label="200 RUB credit", amount=200)
    rule(kind="milestone", threshold=3, label="Gold")
    anna = Browser(client, "+79161110000")
    anna.sign_in()
    code = db.session.scalars(select(User.invite_code).where(User.phone == "+79161110000")).one()
    api.sign_in("+79261234567", invite_code=code)
    page = anna.get("/profile").text
    assert "1 referral qualified." in page and "2 more to Gold" in page
    assert '<progress id="milestone" max="3" value="1">' in page
    assert "200 RUB credit" in page and 'class="state state-qualified">qualified<' in page
    anna.get("/lang/ru")
    assert "Ещё 2 до «Gold»" in anna.get("/profile").text

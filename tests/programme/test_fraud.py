"""The fraud rules hold a referral for review instead of qualifying it, and leave an honest one alone; the
inviter sees a held referral as pending, never as suspected; the signals kept are few, and purged."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from referral.domain import fraud
from referral.extensions import db
from referral.infra.models import Footprint, ReferralCount, ReferralHold, User
from tests.conftest import ip_of
from tests.programme.conftest import SPREAD
from tests.web.test_pages import Browser


def state_of(user_id: int) -> str:
    db.session.expire_all()
    return db.session.get(User, user_id).referral_state


def hold_reasons(user_id: int) -> list[str]:
    hold = db.session.get(ReferralHold, user_id)
    return hold.reasons.split(",") if hold else []


def test_an_honest_referral_is_not_held(inviter, invite, events):
    invitee = invite(0)
    assert state_of(invitee["id"]) == "qualified"
    assert events("referral.held") == []


def test_an_invitee_on_the_inviters_network_is_held(api, client, inviter, events):
    code = api.request_code(SPREAD[0])
    body = {"phone": SPREAD[0], "code": code, "invite_code": inviter["code"]}
    inviters_address = ip_of(inviter["user"]["phone"])["REMOTE_ADDR"]
    same_network = {"REMOTE_ADDR": inviters_address.rsplit(".", 1)[0] + ".77"}  # another address of their /24
    client.post("/api/v1/auth/token", json=body, environ_base=same_network)
    invitee = db.session.scalars(select(User).where(User.phone == SPREAD[0])).one()
    assert state_of(invitee.id) == "held"
    assert hold_reasons(invitee.id) == ["shared_network"]
    [(_, said)] = events("referral.held")
    assert said["reasons"] == ["shared_network"] and said["inviter"]["id"] == inviter["id"]
    # the inviter sees it pending, never "held"
    items = client.get("/api/v1/profile/referrals", headers=inviter["headers"]).json["items"]
    assert [item["state"] for item in items] == ["pending"]
    # counted by the sign-up's statement as an honest one, then taken back off the qualified ones by the hold
    profile = api.profile(inviter)
    assert (profile["referrals_count"], profile["qualified_referrals_count"]) == (1, 0)
    counts = db.session.execute(
        select(
            func.sum(ReferralCount.referrals), func.sum(ReferralCount.qualified), func.min(ReferralCount.qualified)
        ).where(ReferralCount.user_id == inviter["id"])
    ).one()
    assert tuple(counts) == (1, 0, 0)  # no count row below zero


def test_a_code_entered_later_from_the_inviters_network_is_held_and_counted(api, client, inviter, events):
    """The activation's own statement writes the hold and counts the referral (PostgreSQL: one round trip)."""
    invitee = api.sign_in(SPREAD[0])
    same_network = {"REMOTE_ADDR": ip_of(inviter["user"]["phone"])["REMOTE_ADDR"].rsplit(".", 1)[0] + ".77"}
    body = {"invite_code": inviter["code"]}
    entered = client.post("/api/v1/profile/invite", json=body, headers=invitee["headers"], environ_base=same_network)
    assert entered.status_code == 200, entered.json
    assert state_of(invitee["user"]["id"]) == "held"
    assert hold_reasons(invitee["user"]["id"]) == ["shared_network"]
    [(_, said)] = events("referral.held")
    assert said["inviter"]["id"] == inviter["id"]
    profile = api.profile(inviter)
    assert (profile["referrals_count"], profile["qualified_referrals_count"]) == (1, 0)


def test_an_honest_code_entered_later_is_counted_qualified(api, client, inviter):
    invitee = api.sign_in(SPREAD[0])
    body = {"invite_code": inviter["code"]}
    assert client.post("/api/v1/profile/invite", json=body, headers=invitee["headers"]).status_code == 200
    assert state_of(invitee["user"]["id"]) == "qualified" and hold_reasons(invitee["user"]["id"]) == []
    profile = api.profile(inviter)
    assert (profile["referrals_count"], profile["qualified_referrals_count"]) == (1, 1)


def test_a_network_shared_days_ago_is_not_held(api, client, inviter, clock):
    clock.advance(days=2)  # past FRAUD_SHARED_NETWORK_DAYS (1)
    code = api.request_code(SPREAD[0])
    body = {"phone": SPREAD[0], "code": code, "invite_code": inviter["code"]}
    same_network = {"REMOTE_ADDR": ip_of(inviter["user"]["phone"])["REMOTE_ADDR"].rsplit(".", 1)[0] + ".77"}
    assert client.post("/api/v1/auth/token", json=body, environ_base=same_network).status_code == 201
    assert db.session.scalars(select(User.referral_state).where(User.phone == SPREAD[0])).one() == "qualified"


def test_one_browser_for_two_accounts_is_held(client):
    anna = Browser(client, SPREAD[5])
    anna.sign_in()  # the inviter, in her browser (its device cookie)
    code = db.session.scalars(select(User.invite_code).where(User.phone == SPREAD[5])).one()
    second = Browser(client, SPREAD[4])  # another account, another address, the same browser
    second.client.set_cookie("device", anna.client.get_cookie("device").value)
    second.get(f"/i/{code}")
    second.sign_in()
    invitee = db.session.scalars(select(User).where(User.phone == SPREAD[4])).one()
    assert hold_reasons(invitee.id) == ["shared_device"]


def test_two_browsers_are_two_devices(client):
    anna = Browser(client, SPREAD[5])
    anna.sign_in()
    code = db.session.scalars(select(User.invite_code).where(User.phone == SPREAD[5])).one()
    boris = Browser(client, SPREAD[4])
    boris.get(f"/i/{code}")
    boris.sign_in()
    assert db.session.scalars(select(User.referral_state).where(User.phone == SPREAD[4])).one() == "qualified"


def test_a_burst_of_referrals_is_held(app, inviter, invite):
    app.config["FRAUD_REFERRALS_PER_HOUR"] = 3
    states = [state_of(invite(n)["id"]) for n in range(5)]
    assert states == ["qualified", "qualified", "qualified", "held", "held"]


def test_invitees_with_numbers_in_sequence_are_held(inviter, invite):
    first = invite(phone="+79161234500")
    second = invite(phone="+79161234502")
    assert state_of(first["id"]) == "qualified"
    assert state_of(second["id"]) == "held" and "sequential_numbers" in hold_reasons(second["id"])


def test_invitees_from_one_block_of_numbers_are_held(inviter, invite):
    phones = ["+79161234510", "+79161234540", "+79161234570", "+79161234590"]
    states = [state_of(invite(phone=phone)["id"]) for phone in phones]
    assert states == ["qualified", "qualified", "qualified", "held"]  # the fourth of one hundred numbers
    assert hold_reasons(db.session.scalars(select(User.id).where(User.phone == phones[3])).one()) == ["shared_prefix"]


def test_a_trusted_inviter_is_not_held_for_volume(app, inviter, invite, events):
    app.config["FRAUD_REFERRALS_PER_HOUR"] = 2
    fraud.trust(inviter["id"], "spring campaign")
    db.session.commit()
    phones = ["+79161234500", "+79161234501", "+79161234502", "+79161234503"]  # in sequence, one block, a burst
    assert [state_of(invite(phone=phone)["id"]) for phone in phones] == ["qualified"] * 4
    assert events("referral.held") == []


def test_a_trusted_inviter_is_still_held_for_a_shared_network(api, client, inviter):
    fraud.trust(inviter["id"], "spring campaign")
    db.session.commit()
    code = api.request_code(SPREAD[0])
    body = {"phone": SPREAD[0], "code": code, "invite_code": inviter["code"]}
    same_network = {"REMOTE_ADDR": ip_of(inviter["user"]["phone"])["REMOTE_ADDR"].rsplit(".", 1)[0] + ".77"}
    client.post("/api/v1/auth/token", json=body, environ_base=same_network)
    invitee = db.session.scalars(select(User).where(User.phone == SPREAD[0])).one()
    assert hold_reasons(invitee.id) == ["shared_network"]
    assert db.session.get(ReferralHold, invitee.id).evidence.count('"trusted_inviter": true') == 1


def test_distrusted_the_volume_rules_apply_again(app, inviter, invite):
    app.config["FRAUD_REFERRALS_PER_HOUR"] = 1
    fraud.trust(inviter["id"], "spring campaign")
    db.session.commit()
    assert state_of(invite(0)["id"]) == "qualified" and state_of(invite(1)["id"]) == "qualified"
    assert fraud.distrust(inviter["id"]) is True
    db.session.commit()
    assert state_of(invite(2)["id"]) == "held"
    assert fraud.distrust(inviter["id"]) is False


def test_inviters_are_trusted_from_the_command_line(runner, inviter):
    phone = inviter["user"]["phone"]
    result = runner.invoke(args=["referrals", "trust", phone, "--reason", "influencer deal"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["referrals", "trusted"]).output
    assert phone in listed and "influencer deal" in listed
    assert runner.invoke(args=["referrals", "trust", phone]).exit_code == 2  # a reason is required
    assert "no longer trusted" in runner.invoke(args=["referrals", "distrust", phone]).output
    assert phone not in runner.invoke(args=["referrals", "trusted"]).output
    assert runner.invoke(args=["referrals", "trust", "+79000000009", "--reason", "x"]).exit_code == 1


def test_a_known_virtual_range_is_held(app, inviter, invite):
    app.config["FRAUD_VIRTUAL_PREFIXES"] = ("+7958",)
    assert "virtual_number" in hold_reasons(invite(phone="+79581234567")["id"])


def test_each_rule_can_be_turned_off(app, inviter, invite):
    app.config.update(FRAUD_SEQUENCE_GAP=0, FRAUD_PREFIX_MATCHES=0)
    for phone in ("+79161234500", "+79161234501", "+79161234502", "+79161234503"):
        assert state_of(invite(phone=phone)["id"]) == "qualified"


@pytest.mark.parametrize(
    ("phone", "reasons"),
    [("+79161234567", []), ("+74951234567", ["not_mobile"]), ("+79581234567", ["virtual_number"])],
)
def test_the_number_rules(phone, reasons):
    assert fraud.number_rules(phone, True, ("+7958",)) == reasons


def test_only_a_network_and_hashes_are_kept(api, inviter):
    [footprint] = db.session.scalars(select(Footprint).where(Footprint.user_id == inviter["id"])).all()
    assert footprint.network == ip_of(inviter["user"]["phone"])["REMOTE_ADDR"].rsplit(".", 1)[0] + ".0/24"
    assert footprint.agent_hash is not None and len(footprint.agent_hash) == 16
    assert fraud.network_of("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert fraud.network_of("not an address") is None


def test_the_purge_deletes_footprints_past_their_retention(app, runner, inviter, clock):
    clock.advance(days=app.config["FRAUD_SIGNALS_DAYS"] + 1)
    output = runner.invoke(args=["maintenance", "purge"]).output
    assert "purged 1 footprints" in output
    assert db.session.scalars(select(Footprint)).all() == []

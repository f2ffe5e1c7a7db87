"""Where a referral stands: qualified at once by default, pending until N days are over or until the
programme's backend reports the qualifying action, voided by the backend; each move announced once."""

from __future__ import annotations

import pytest

from referral.domain import qualification


def referral_states(client, inviter) -> list[str]:
    return [item["state"] for item in client.get("/api/v1/profile/referrals", headers=inviter["headers"]).json["items"]]


def test_a_referral_qualifies_at_once_by_default(api, inviter, invite, events):
    invite(0)
    profile = api.profile(inviter)
    assert profile["referrals_count"] == 1 and profile["qualified_referrals_count"] == 1
    assert [kind for kind, _ in events() if kind.startswith("referral.")] == [
        "referral.activated",
        "referral.qualified",
    ]


def test_after_days_a_referral_is_pending_until_its_days_are_over(app, api, client, inviter, invite, clock, runner):
    app.config["QUALIFY_REFERRALS"] = ("after_days", 7)
    invite(0)
    assert referral_states(client, inviter) == ["pending"]
    assert api.profile(inviter)["qualified_referrals_count"] == 0
    clock.advance(days=6, hours=23)
    assert runner.invoke(args=["referrals", "qualify-due"]).output == "qualified 0 referrals (after 7 days)\n"
    clock.advance(hours=2)
    assert runner.invoke(args=["referrals", "qualify-due"]).output == "qualified 1 referrals (after 7 days)\n"
    assert referral_states(client, inviter) == ["qualified"]
    assert api.profile(inviter)["qualified_referrals_count"] == 1
    assert runner.invoke(args=["referrals", "qualify-due"]).output == "qualified 0 referrals (after 7 days)\n"


def test_qualify_due_runs_as_a_worker_loop_with_every(app, inviter, invite, clock, runner, worker_loop):
    """Compose's qualify service: `flask referrals qualify-due --every 600`; each run qualifies what is due."""
    app.config["QUALIFY_REFERRALS"] = ("after_days", 7)
    invite(0)
    pauses = worker_loop(2, between=lambda: clock.advance(days=7, minutes=1))  # the next run finds it due
    output = runner.invoke(args=["referrals", "qualify-due", "--every", "600"]).output
    assert pauses == [600, 600]
    assert [line for line in output.splitlines() if line.startswith("qualified")] == [
        "qualified 0 referrals (after 7 days)",
        "qualified 1 referrals (after 7 days)",
    ]


def test_qualify_due_with_no_qualification_by_time_stops_at_once(app, runner):
    app.config["QUALIFY_REFERRALS"] = ("immediate", None)
    result = runner.invoke(args=["referrals", "qualify-due", "--every", "600"])
    assert result.exit_code == 0 and result.output == "QUALIFY_REFERRALS is immediate: nothing qualifies by time\n"


def test_a_blocked_invitee_does_not_qualify_by_time(app, client, inviter, invite, clock):
    from referral.infra import accounts

    app.config["QUALIFY_REFERRALS"] = ("after_days", 1)
    invitee = invite(0)
    accounts.block(invitee["id"], clock.now)
    clock.advance(days=2)
    assert qualification.qualify_due() == 0
    assert referral_states(client, inviter) == ["pending"]


def test_on_event_the_backend_qualifies_a_referral_once(app, api, inviter, invite, programme, events):
    app.config["QUALIFY_REFERRALS"] = ("on_event", 0)
    invitee = invite(0)
    assert programme.get(f"/referrals/{invitee['id']}").json["state"] == "pending"
    for _ in range(3):  # replays change nothing
        answer = programme.post(f"/referrals/{invitee['id']}/qualify")
        assert answer.status_code == 200 and answer.json["state"] == "qualified"
    assert answer.json["inviter_id"] == inviter["id"]
    assert len(events("referral.qualified")) == 1
    assert api.profile(inviter)["qualified_referrals_count"] == 1


def test_the_backend_voids_a_referral_which_then_cannot_qualify(app, api, client, inviter, invite, programme, events):
    invitee = invite(0)
    voided = programme.post(f"/referrals/{invitee['id']}/void", json={"reason": "refund"})
    assert voided.status_code == 200
    assert voided.json == {
        "referral": voided.json["referral"] | {"state": "voided"},
        "cancelled_rewards": [],
        "flagged_rewards": [],
    }
    profile = api.profile(inviter)
    assert profile["referrals_count"] == 1  # however it stands
    assert profile["qualified_referrals_count"] == 0
    assert referral_states(client, inviter) == ["voided"]
    [(_, said)] = events("referral.voided")
    assert said["reason"] == "refund" and said["by"] == "programme" and said["was"] == "qualified"
    again = programme.post(f"/referrals/{invitee['id']}/qualify")
    assert again.status_code == 409 and again.json["code"] == "referral_voided"
    assert programme.post(f"/referrals/{invitee['id']}/void", json={"reason": "twice"}).status_code == 200
    assert len(events("referral.voided")) == 1


def test_the_backend_names_only_referrals(api, programme, inviter):
    alone = api.sign_in("+79037775511")
    for path in (f"/referrals/{alone['user']['id']}", "/referrals/999999"):
        answer = programme.get(path)
        assert answer.status_code == 404 and answer.json["code"] == "referral_not_found"
    assert programme.post(f"/referrals/{inviter['id']}/void", json={}).json["code"] == "validation_error"


@pytest.mark.parametrize(
    "header",
    [None, "", "rk_nope", "rk_abcdefgh_" + "x" * 43, "Bearer something"],
    ids=["missing", "empty", "malformed", "unknown", "a bearer token"],
)
def test_a_wrong_api_key_is_refused(client, api_key, header):
    headers = {"X-API-Key": header} if header is not None else {}
    answer = client.get("/api/v1/programme/rewards", headers=headers)
    assert answer.status_code == 401 and answer.json["code"] == "api_key_invalid"


def test_a_users_token_is_not_an_api_key(client, inviter):
    answer = client.get("/api/v1/programme/rewards", headers=inviter["headers"])
    assert answer.status_code == 401 and answer.json["code"] == "api_key_invalid"


def test_a_key_with_a_wrong_secret_is_refused(client, api_key):
    forged = api_key[:-4] + ("aaaa" if not api_key.endswith("aaaa") else "bbbb")
    assert client.get("/api/v1/programme/rewards", headers={"X-API-Key": forged}).status_code == 401


def test_a_revoked_key_is_refused_at_once(client, runner, api_key, programme):
    assert programme.get("/rewards").status_code == 200
    key_id = api_key.split("_")[1]
    assert runner.invoke(args=["apikeys", "revoke", key_id]).output == f"key {key_id} revoked\n"
    answer = programme.get("/rewards")
    assert answer.status_code == 401 and answer.json["code"] == "api_key_invalid"
    listed = runner.invoke(args=["apikeys", "list"]).output
    assert key_id in listed and "revoked" in listed and api_key.split("_", 2)[2] not in listed


def test_keys_are_made_by_the_cli_and_kept_hashed(runner, client):
    from sqlalchemy import select

    from referral.extensions import db
    from referral.infra.models import ApiKey

    made = runner.invoke(args=["apikeys", "create", "crm"]).output.splitlines()[-1]
    assert made.startswith("rk_")
    assert client.get("/api/v1/programme/rewards", headers={"X-API-Key": made}).status_code == 200
    stored = db.session.scalars(select(ApiKey)).one()
    assert made.split("_", 2)[2] not in (stored.secret_hash, stored.id, stored.name)


def test_a_key_is_rate_limited_and_another_key_is_not(app, client, api_key):
    app.config["RATELIMIT_PROGRAMME_API"] = "3 per minute"
    statuses = [client.get("/api/v1/programme/rewards", headers={"X-API-Key": api_key}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    from referral.domain import api_keys

    other = api_keys.create("crm").key
    assert client.get("/api/v1/programme/rewards", headers={"X-API-Key": other}).status_code == 200
    wrong = [client.get("/api/v1/programme/rewards", headers={"X-API-Key": "rk_x"}).status_code for _ in range(5)]
    assert wrong == [401] * 5  # a wrong key spends no budget, and is refused as wrong


def test_the_programme_api_is_documented_with_its_key(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    qualify = spec["paths"]["/api/v1/programme/referrals/{invitee_id}/qualify"]["post"]
    assert qualify["security"] == [{"apiKey": []}]
    assert {"200", "401", "404", "409", "429"} <= set(qualify["responses"])
    assert "/api/v1/profile/rewards" in spec["paths"]

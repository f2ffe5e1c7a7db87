"""``flask`` commands, through the CLI runner."""

import pytest
from sqlalchemy import func, select

from referral.extensions import db
from referral.infra.models import AuthSession, LoginCode, User


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_purge_deletes_expired_codes_and_dead_sessions(runner, api, client, clock):
    kept = api.sign_in("+79990000001")
    logged_out = api.sign_in("+79990000002")
    client.post("/api/v1/auth/logout", headers=logged_out["headers"])
    api.request_code("+79990000003")  # live code, stays
    clock.advance(seconds=301)
    api.request_code("+79990000004")  # fresh code, stays; the three earlier codes have expired
    result = runner.invoke(args=["maintenance", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged 3 login codes and 1 sessions" in result.output
    assert count(LoginCode) == 1
    assert count(AuthSession) == 1
    assert client.get("/api/v1/profile", headers=kept["headers"]).status_code == 200


def test_purge_has_help(runner):
    result = runner.invoke(args=["maintenance", "purge", "--help"])
    assert result.exit_code == 0
    assert "expired login codes" in result.output


def test_expired_sessions_are_purged(runner, api, clock):
    api.sign_in("+79990000001")
    clock.advance(days=31)
    assert "1 sessions" in runner.invoke(args=["maintenance", "purge"]).output


def people(api):
    """anna invited boris and vera; boris invited gleb."""
    anna = api.sign_in("+79990000001")
    boris = api.sign_in("+79990000002", invite_code=anna["user"]["invite_code"])
    api.sign_in("+79990000003", invite_code=anna["user"]["invite_code"])
    api.sign_in("+79990000004", invite_code=boris["user"]["invite_code"])


class TestUsers:
    def test_list_shows_users_by_id(self, runner, api):
        people(api)
        result = runner.invoke(args=["users", "list"])
        assert result.exit_code == 0
        lines = result.output.splitlines()
        assert "phone" in lines[0]
        assert [line.split()[1] for line in lines[1:]] == [f"+7999000000{n}" for n in (1, 2, 3, 4)]

    def test_list_pages_with_after(self, runner, api):
        people(api)
        first = runner.invoke(args=["users", "list", "--limit", "2"]).output
        assert "next: --after" in first
        after = first.rsplit("--after ", 1)[1].strip()
        second = runner.invoke(args=["users", "list", "--limit", "2", "--after", after]).output
        assert "+79990000003" in second and "+79990000001" not in second

    def test_list_filters(self, runner, api):
        people(api)
        invited = runner.invoke(args=["users", "list", "--invited"]).output
        assert "+79990000001" not in invited and "+79990000004" in invited
        not_invited = runner.invoke(args=["users", "list", "--not-invited"]).output
        assert "+79990000001" in not_invited and "+79990000002" not in not_invited
        of_anna = runner.invoke(args=["users", "list", "--invited-by", "89990000001"]).output
        assert "+79990000002" in of_anna and "+79990000004" not in of_anna
        search = runner.invoke(args=["users", "list", "--search", "0004"]).output
        assert len(search.splitlines()) == 2

    def test_show_prints_the_profile_the_inviters_and_the_tree(self, runner, api):
        people(api)
        result = runner.invoke(args=["users", "show", "+79990000001"])
        assert result.exit_code == 0
        assert "2 referrals" in result.output
        assert "    +79990000004" in result.output  # boris's referral, one level deeper
        gleb = runner.invoke(args=["users", "show", "+79990000004"]).output
        assert "invited by: +79990000002 <- +79990000001" in gleb

    def test_show_an_unknown_phone_fails_clearly(self, runner):
        result = runner.invoke(args=["users", "show", "+79990000009"])
        assert result.exit_code != 0
        assert "no user has the phone +79990000009" in result.output
        assert "not a mobile number" in runner.invoke(args=["users", "show", "12"]).output

    def test_delete_detaches_referrals_and_fixes_the_inviters_count(self, runner, api):
        people(api)
        result = runner.invoke(args=["users", "delete", "+79990000002", "--yes"])
        assert result.exit_code == 0, result.output
        assert "1 referrals detached" in result.output
        anna = db.session.scalars(select(User).where(User.phone == "+79990000001")).one()
        gleb = db.session.scalars(select(User).where(User.phone == "+79990000004")).one()
        assert anna.referrals_count == 1
        assert (gleb.invited_by_id, gleb.invited_at) == (None, None)

    def test_a_detached_referral_may_enter_another_code(self, runner, api, client, clock):
        people(api)
        runner.invoke(args=["users", "delete", "+79990000002", "--yes"])
        clock.advance(seconds=60)
        vera = api.sign_in("+79990000005")
        gleb_tokens = api.sign_in("+79990000004")
        response = client.post(
            "/api/v1/profile/invite", headers=gleb_tokens["headers"], json={"invite_code": vera["user"]["invite_code"]}
        )
        assert response.status_code == 200

    def test_delete_asks_first(self, runner, api):
        people(api)
        result = runner.invoke(args=["users", "delete", "+79990000002"], input="n\n")
        assert result.exit_code != 0
        assert db.session.scalars(select(User).where(User.phone == "+79990000002")).one_or_none() is not None


def test_referrals_top_is_the_leaderboard(runner, api):
    people(api)
    lines = runner.invoke(args=["referrals", "top"]).output.splitlines()
    assert lines[0].split()[1:3] == ["+79990000001", "2"]
    assert lines[1].split()[1:3] == ["+79990000002", "1"]
    assert len(lines) == 2


def test_referrals_top_with_nobody(runner):
    assert "nobody has referrals yet" in runner.invoke(args=["referrals", "top"]).output


class TestDemoSeed:
    def test_seed_makes_consistent_users(self, runner):
        result = runner.invoke(args=["demo", "seed", "--users", "500", "--influencer-referrals", "50", "--chain", "30"])
        assert result.exit_code == 0, result.output
        assert "seeded 500 users" in result.output
        assert db.session.scalar(select(func.count()).select_from(User)) == 500
        users = db.session.scalars(select(User)).all()
        by_id = {user.id: user for user in users}
        real_counts = {user.id: 0 for user in users}
        for user in users:
            assert (user.invited_by_id is None) == (user.invited_at is None)
            assert len(user.invite_code) == 6
            if user.invited_by_id is not None:
                assert user.invited_by_id < user.id  # inviters are older: no loops
                real_counts[user.invited_by_id] += 1
        assert all(by_id[i].referrals_count == count for i, count in real_counts.items())
        assert max(real_counts.values()) >= 50

    def test_seeded_users_can_be_listed_and_the_api_keeps_working(self, runner, api):
        runner.invoke(args=["demo", "seed", "--users", "50", "--seed", "7"])
        assert api.sign_in("+79990000001")["user"]["id"] > 50

    def test_seed_has_help(self, runner):
        assert "COPY on PostgreSQL" in runner.invoke(args=["demo", "seed", "--help"]).output


@pytest.mark.parametrize("group", ["users", "referrals", "maintenance", "sms", "demo"])
def test_every_command_has_help(runner, group):
    result = runner.invoke(args=[group, "--help"])
    assert result.exit_code == 0
    for line in result.output.split("Commands:")[1].strip().splitlines():
        command = line.split()[0]
        assert runner.invoke(args=[group, command, "--help"]).exit_code == 0

"""``flask`` commands, through the CLI runner."""

from sqlalchemy import func, select

from referral.extensions import db
from referral.models import AuthSession, LoginCode


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

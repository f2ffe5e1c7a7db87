"""The migrations build exactly the models: autogenerate finds nothing to add."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from referral.extensions import db


def test_migrations_and_models_agree(app):
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
    assert compare_metadata(context, db.metadata) == []


def test_the_schema_keeps_the_invariants(app):
    inspector = inspect(db.session.connection())
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("users")}
    assert {("phone",), ("invite_code",)} <= uniques
    foreign_keys = inspector.get_foreign_keys("users")
    assert foreign_keys[0]["referred_table"] == "users" and foreign_keys[0]["constrained_columns"] == ["invited_by_id"]
    checks = {c["name"] for c in inspector.get_check_constraints("users")}
    assert "ck_users_not_self_invited" in checks
    indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("users")}
    assert indexes["ix_users_referrals"] == ["invited_by_id", "invited_at", "id"]


def test_the_database_itself_refuses_a_self_invitation(app, user_factory):
    import pytest
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    from referral import clock
    from referral.infra.models import User

    user = user_factory()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(
                update(User).where(User.id == user.id).values(invited_by_id=user.id, invited_at=clock.utcnow())
            )

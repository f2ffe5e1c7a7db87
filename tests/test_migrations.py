"""The migrations build exactly the models: autogenerate finds nothing to add."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from referral import clock
from referral.extensions import db
from referral.infra.models import User


def test_migrations_and_models_agree(app):
    postgresql = db.session.connection().dialect.name == "postgresql"

    def include_object(item, name, type_, reflected, compare_to):  # as migrations/env.py filters them
        return postgresql or not (type_ == "index" and item.info.get("postgresql_only", False))

    opts = {"compare_type": True, "include_object": include_object}
    context = MigrationContext.configure(db.session.connection(), opts=opts)
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


@pytest.mark.committing
def test_the_referral_counts_move_to_their_own_rows_and_back(app):
    """0004 moves each user's count, exactly, to a row of ``referral_counts``; its downgrade sums them back."""
    downgrade(revision="0003")
    try:
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, phone, invite_code, first_name, last_name, referrals_count, created_at) "
                    "VALUES (1, '+79990000001', 'AAAAAA', '', '', 2, :now), "
                    "(2, '+79990000002', 'BBBBBB', '', '', 0, :now)"
                ),
                {"now": clock.utcnow()},
            )
        upgrade(revision="0004")
        # Only the columns 0004 has (the model has grown since).
        counts_then = db.session.execute(select(User.id, User.referrals_count).order_by(User.id)).all()
        assert [tuple(row) for row in counts_then] == [(1, 2), (2, 0)]
        db.session.commit()  # the read's transaction ends: the downgrade below takes the tables' locks
        with db.engine.begin() as connection:  # the columns of 0004 (the model's qualified share came in 0010)
            connection.execute(text("INSERT INTO referral_counts (user_id, slot, referrals) VALUES (1, 5, 1)"))
        downgrade(revision="0003")
        with db.engine.connect() as connection:
            counts = connection.execute(text("SELECT id, referrals_count FROM users ORDER BY id")).all()
        assert [tuple(row) for row in counts] == [(1, 3), (2, 0)]
    finally:
        db.session.remove()
        upgrade()

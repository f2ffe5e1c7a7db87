"""factory_boy factories for rows the tests need but do not create through the API."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from referral import clock
from referral.domain import invites
from referral.extensions import db
from referral.infra.models import User


class UserFactory(SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731  (db.session is swapped per test)
        sqlalchemy_session_persistence = "commit"

    phone = factory.Sequence(lambda n: f"+7900{n:07d}")
    invite_code = factory.LazyFunction(invites.generate_invite_code)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")

    @classmethod
    def invited_by(cls, inviter: User, **kwargs: object) -> User:
        """A user who entered ``inviter``'s code, kept consistent the way the activation keeps it."""
        user = cls(invited_by_id=inviter.id, invited_at=clock.utcnow(), invite_channel="code_later", **kwargs)
        invites.count_referral(inviter.id)
        db.session.commit()
        return user

"""GET /api/v1/profile/referrals: the full list, newest first, by keyset cursor."""

import json
from datetime import UTC

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token
from hypothesis import given, settings
from hypothesis import strategies as st

from referral.domain.referrals import Referral, ReferralPage
from referral.extensions import db
from referral.http.json_provider import written
from referral.http.profile.schemas import ReferralPageSchema, referral_page_json
from referral.infra.models import User
from tests.conftest import bearer

URL = "/api/v1/profile/referrals"


@pytest.fixture
def owner(api):
    return api.sign_in("+79990000000")


@pytest.fixture
def invite(owner, user_factory, clock):
    """Make ``n`` referrals of the owner, one second apart, and return them newest first."""
    owner_row = db.session.get(User, owner["user"]["id"])

    def make(n):
        made = []
        for _ in range(n):
            clock.advance(seconds=1)
            made.append(user_factory.invited_by(owner_row))
        return [user.phone for user in reversed(made)]

    return make


def pages(client, headers, limit):
    cursor, seen = None, []
    while True:
        query = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        body = client.get(URL, headers=headers, query_string=query).json
        seen.append(body)
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_items_have_the_documented_fields(client, owner, invite):
    invite(1)
    body = client.get(URL, headers=owner["headers"]).json
    assert list(body) == ["items", "next_cursor", "count"]
    # the contract's four fields, in order, and the channel and the state added after them
    assert list(body["items"][0]) == ["phone", "first_name", "last_name", "joined_at", "channel", "state"]
    assert body["items"][0]["channel"] in ("link", "code_at_signup", "code_later")
    assert body["items"][0]["state"] == "qualified"  # referrals qualify at once by default
    assert body["next_cursor"] is None
    assert body["count"] == 1


def test_an_empty_list(client, owner):
    assert client.get(URL, headers=owner["headers"]).json == {"items": [], "next_cursor": None, "count": 0}


def test_the_default_page_is_50_newest_first(client, owner, invite):
    phones = invite(60)
    body = client.get(URL, headers=owner["headers"]).json
    assert [item["phone"] for item in body["items"]] == phones[:50]
    assert body["count"] == 60
    assert body["next_cursor"]


def test_walking_the_cursor_visits_everyone_once_in_order(client, owner, invite):
    phones = invite(23)
    seen = pages(client, owner["headers"], limit=5)
    assert [len(page["items"]) for page in seen] == [5, 5, 5, 5, 3]
    assert [item["phone"] for page in seen for item in page["items"]] == phones


def test_an_exact_last_page_has_no_next_cursor(client, owner, invite):
    invite(10)
    seen = pages(client, owner["headers"], limit=5)
    assert [len(page["items"]) for page in seen] == [5, 5]


def test_referrals_with_the_same_timestamp_are_split_by_id(client, owner, user_factory):
    owner_row = db.session.get(User, owner["user"]["id"])
    made = [user_factory.invited_by(owner_row) for _ in range(7)]  # the clock is not moved: one instant
    seen = pages(client, owner["headers"], limit=3)
    assert sorted(item["phone"] for page in seen for item in page["items"]) == sorted(u.phone for u in made)


def test_pages_stay_stable_while_new_referrals_arrive(client, owner, invite):
    phones = invite(10)
    first = client.get(URL, headers=owner["headers"], query_string={"limit": 5}).json
    invite(3)  # newer ones join the top; the next page still continues where the first ended
    second = client.get(URL, headers=owner["headers"], query_string={"limit": 5, "cursor": first["next_cursor"]}).json
    assert [i["phone"] for i in first["items"] + second["items"]] == phones
    assert second["count"] == 13


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_a_limit_outside_1_to_100_is_a_validation_error(client, owner, limit):
    response = client.get(URL, headers=owner["headers"], query_string={"limit": limit})
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert "limit" in response.json["errors"]


@pytest.mark.parametrize("cursor", ["garbage", "!!!", "MjAyNnwx", "bm90LWEtZGF0ZXwxMg"])
def test_a_cursor_not_made_by_us_is_a_validation_error(client, owner, cursor):
    response = client.get(URL, headers=owner["headers"], query_string={"cursor": cursor})
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert "cursor" in response.json["errors"]


def test_limit_100_is_allowed(client, owner, invite):
    invite(3)
    assert client.get(URL, headers=owner["headers"], query_string={"limit": 100}).status_code == 200


def test_referrals_of_others_are_not_listed(client, api, owner, invite):
    invite(2)
    other = api.sign_in("+79990000009")
    assert client.get(URL, headers=other["headers"]).json["items"] == []


# The page and its session's check are one statement (tests/domain/test_concurrency_and_queries.py counts it):
# what a token whose session is not live gets is what it gets everywhere else, and before any 422.


def test_a_revoked_session_gets_no_page(client, api, owner, invite):
    invite(2)
    assert client.post("/api/v1/auth/logout", headers=owner["headers"]).status_code == 204
    for query in ({}, {"limit": 1}, {"limit": 1, "cursor": "garbage"}, {"limit": "ten"}):
        response = client.get(URL, headers=owner["headers"], query_string=query)
        assert response.status_code == 401, query
        assert response.json["code"] == "token_revoked"
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_an_expired_session_gets_no_page(client, app, owner, clock):
    clock.advance(seconds=app.config["REFRESH_TOKEN_TTL_SECONDS"] + 1)  # the session's clock; the token's is real
    response = client.get(URL, headers=owner["headers"])
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"


def test_a_deleted_users_token_gets_no_page(client, owner):
    db.session.delete(db.session.get(User, owner["user"]["id"]))
    db.session.commit()
    response = client.get(URL, headers=owner["headers"])
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"


def test_a_token_naming_another_user_than_its_session_gets_no_page(client, app, api, owner, invite):
    invite(2)
    other = api.sign_in("+79990000009")
    session_id = pyjwt.decode(owner["access_token"], options={"verify_signature": False})["sid"]
    with app.app_context():
        mixed = create_access_token(str(other["user"]["id"]), additional_claims={"sid": session_id})
    response = client.get(URL, headers=bearer(mixed))
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"


def test_a_live_session_with_a_bad_query_gets_the_422(client, owner):
    response = client.get(URL, headers=owner["headers"], query_string={"limit": "ten"})
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.builds(
            Referral,
            phone=st.from_regex(r"\+7999[0-9]{7}", fullmatch=True),
            first_name=st.text(max_size=64),
            last_name=st.text(max_size=64),
            joined_at=st.datetimes(timezones=st.just(UTC)),
            channel=st.sampled_from(["link", "code_at_signup", "code_later", None]),
            state=st.sampled_from(["pending", "qualified", "voided"]),
        ),
        max_size=5,
    ),
    st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    st.integers(min_value=0, max_value=2**40),
)
def test_the_page_is_written_out_as_its_schema_dumps_it(items, next_cursor, count):
    """The endpoint writes its JSON without marshmallow's per-field dump (for speed): byte for byte what the
    documented ReferralPageSchema gives, keys in the same order."""
    page = ReferralPage(items=items, next_cursor=next_cursor, count=count)
    body, dumped = written(referral_page_json(page)), ReferralPageSchema().dump(page)
    assert json.dumps(json.loads(body)) == json.dumps(dumped)

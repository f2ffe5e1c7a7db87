"""GET and PATCH /api/v1/profile."""

import json
from datetime import UTC

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral.domain.account import Account
from referral.domain.sessions import TokenPair
from referral.domain.signin import SignIn
from referral.extensions import db
from referral.http.json_provider import written
from referral.http.schemas import ProfileSchema, SignInSchema, profile_json, sign_in_json
from referral.infra.models import User
from tests.conftest import bearer

URL = "/api/v1/profile"


def test_profile_has_the_documented_fields_in_order(api):
    tokens = api.sign_in("+79991234567")
    profile = api.profile(tokens)
    assert list(profile) == [
        "id",
        "phone",
        "invite_code",
        "first_name",
        "last_name",
        "activated_invite_code",
        "invited_at",
        "referrals_count",
        "referrals",
        "created_at",
        "qualified_referrals_count",  # added later: after the documented ones
    ]
    assert profile["phone"] == "+79991234567"
    assert profile["activated_invite_code"] is None
    assert profile["invited_at"] is None
    assert profile["referrals_count"] == 0
    assert profile["referrals"] == []
    assert profile["created_at"].endswith(("Z", "+00:00"))


def test_profile_lists_referral_phones_newest_first(api, clock):
    me = api.sign_in("+79990000000")
    for n in (1, 2, 3):
        clock.advance(seconds=1)
        api.sign_in(f"+7999000000{n}", invite_code=me["user"]["invite_code"])
    profile = api.profile(me)
    assert profile["referrals"] == ["+79990000003", "+79990000002", "+79990000001"]
    assert profile["referrals_count"] == 3


def test_profile_shows_at_most_100_referral_phones_but_counts_all(api, user_factory):
    me = api.sign_in("+79990000000")
    owner = db.session.get(User, me["user"]["id"])
    for _ in range(105):
        user_factory.invited_by(owner)
    profile = api.profile(me)
    assert profile["referrals_count"] == 105
    assert len(profile["referrals"]) == 100


def test_names_are_set_trimmed_and_returned(client, api):
    tokens = api.sign_in("+79991234567")
    response = client.patch(URL, headers=tokens["headers"], json={"first_name": "  Anna ", "last_name": "Petrova"})
    assert response.status_code == 200
    assert (response.json["first_name"], response.json["last_name"]) == ("Anna", "Petrova")
    assert api.profile(tokens)["first_name"] == "Anna"


def test_one_name_alone_leaves_the_other(client, api):
    tokens = api.sign_in("+79991234567")
    client.patch(URL, headers=tokens["headers"], json={"first_name": "Anna", "last_name": "Petrova"})
    response = client.patch(URL, headers=tokens["headers"], json={"last_name": "Ivanova"})
    assert (response.json["first_name"], response.json["last_name"]) == ("Anna", "Ivanova")


def test_an_empty_string_clears_a_name(client, api):
    tokens = api.sign_in("+79991234567")
    client.patch(URL, headers=tokens["headers"], json={"first_name": "Anna"})
    assert client.patch(URL, headers=tokens["headers"], json={"first_name": ""}).json["first_name"] == ""


def test_sixty_four_characters_fit_after_trimming(client, api):
    tokens = api.sign_in("+79991234567")
    response = client.patch(URL, headers=tokens["headers"], json={"first_name": " " + "Я" * 64 + " "})
    assert response.status_code == 200
    assert response.json["first_name"] == "Я" * 64


@pytest.mark.parametrize(
    "body, field",
    [
        ({"first_name": "x" * 65}, "first_name"),
        ({"first_name": 5}, "first_name"),
        ({"first_name": None}, "first_name"),
        ({"last_name": "Pe\u0000trova"}, "last_name"),
        ({"nickname": "Ann"}, "nickname"),
        ({}, "body"),
    ],
)
def test_bad_names_are_validation_errors_and_change_nothing(client, api, body, field):
    tokens = api.sign_in("+79991234567")
    response = client.patch(URL, headers=tokens["headers"], json=body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]
    assert api.profile(tokens)["first_name"] == ""


def test_a_json_array_body_is_a_validation_error(client, api):
    tokens = api.sign_in("+79991234567")
    response = client.patch(URL, headers=tokens["headers"], json=["Anna"])
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"


def test_profile_needs_a_token(client):
    assert client.get(URL).json["code"] == "token_missing"
    assert client.patch(URL, json={"first_name": "A"}).json["code"] == "token_missing"


def test_profile_of_one_user_is_never_shown_to_another(client, api):
    anna = api.sign_in("+79990000001")
    boris = api.sign_in("+79990000002")
    assert client.get(URL, headers=bearer(boris["access_token"])).json["id"] != anna["user"]["id"]


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        Account,
        id=st.integers(min_value=1, max_value=2**62),
        phone=st.from_regex(r"\+7999[0-9]{7}", fullmatch=True),
        invite_code=st.text(min_size=6, max_size=6),
        first_name=st.text(max_size=64),
        last_name=st.text(max_size=64),
        activated_invite_code=st.one_of(st.none(), st.text(min_size=6, max_size=6)),
        invited_at=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
        referrals_count=st.integers(min_value=0, max_value=2**40),
        created_at=st.datetimes(timezones=st.just(UTC)),
        qualified_referrals_count=st.integers(min_value=0, max_value=2**40),
        newest_referrals=st.one_of(st.none(), st.lists(st.from_regex(r"\+7999[0-9]{7}", fullmatch=True), max_size=5)),
    )
)
def test_the_profile_is_written_out_as_its_schema_dumps_it(account):
    """The profile endpoints and the sign-in write their JSON without marshmallow's per-field dump (for speed):
    byte for byte what the documented ProfileSchema and SignInSchema give, keys in the same order."""
    assert json.dumps(json.loads(written(profile_json(account)))) == json.dumps(ProfileSchema().dump(account))
    signed_in = SignIn(TokenPair("header.claims.signature", "header.refresh.signature", 900), account, created=True)
    assert json.dumps(json.loads(written(sign_in_json(signed_in)))) == json.dumps(SignInSchema().dump(signed_in))

"""POST /api/v1/auth/token: exchange phone and code for tokens."""

import pytest
from sqlalchemy import func, select

from referral.extensions import db
from referral.infra.models import INVITE_ALPHABET, AuthSession, LoginCode, User

URL = "/api/v1/auth/token"
PHONE = "+79991234567"


def wrong(code: str) -> str:
    return "0000" if code != "0000" else "1111"


def users_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_first_sign_in_creates_the_user_and_answers_201(client, api):
    code = api.request_code(PHONE)
    response = client.post(URL, json={"phone": PHONE, "code": code})
    assert response.status_code == 201
    body = response.json
    assert list(body) == ["access_token", "refresh_token", "token_type", "expires_in", "user"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["user"]["phone"] == PHONE
    assert users_count() == 1


def test_later_sign_ins_answer_200_for_the_same_user(client, api, clock):
    first = api.sign_in(PHONE)
    clock.advance(seconds=60)
    code = api.request_code(PHONE)
    response = client.post(URL, json={"phone": PHONE, "code": code})
    assert response.status_code == 200
    assert response.json["user"]["id"] == first["user"]["id"]
    assert response.json["user"]["invite_code"] == first["user"]["invite_code"]


def test_the_phone_may_be_written_differently_at_each_step(client, api):
    code = api.request_code("8 (999) 123-45-67")
    assert client.post(URL, json={"phone": "9991234567", "code": code}).status_code == 201


def test_a_new_user_gets_a_six_character_invite_code_from_the_alphabet(api):
    invite_code = api.sign_in(PHONE)["user"]["invite_code"]
    assert len(invite_code) == 6
    assert set(invite_code) <= set(INVITE_ALPHABET)
    assert not set(invite_code) & set("0Oo1lI")


def test_invite_codes_are_unique_across_users(api, user_factory, monkeypatch):
    taken = user_factory(invite_code="AAAAAA")
    draws = iter(["AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr("referral.domain.invites.generate_invite_code", lambda: next(draws))
    assert api.sign_in(PHONE)["user"]["invite_code"] == "BBBBBB"
    assert taken.invite_code == "AAAAAA"


def test_a_wrong_code_is_401_with_the_attempts_left(client, api):
    code = api.request_code(PHONE)
    response = client.post(URL, json={"phone": PHONE, "code": wrong(code)})
    assert response.status_code == 401
    assert response.json["code"] == "code_invalid"
    assert response.json["attempts_left"] == 4
    assert users_count() == 0


def test_the_code_dies_after_the_maximum_of_wrong_tries(client, api):
    code = api.request_code(PHONE)
    left = [client.post(URL, json={"phone": PHONE, "code": wrong(code)}).json["attempts_left"] for _ in range(5)]
    assert left == [4, 3, 2, 1, 0]
    response = client.post(URL, json={"phone": PHONE, "code": code})
    assert response.status_code == 429
    assert response.json["code"] == "code_attempts_exceeded"
    assert int(response.headers["Retry-After"]) >= 1
    assert users_count() == 0


def test_a_new_code_after_the_attempts_ran_out_works(client, api, clock):
    code = api.request_code(PHONE)
    for _ in range(5):
        client.post(URL, json={"phone": PHONE, "code": wrong(code)})
    clock.advance(seconds=60)
    code = api.request_code(PHONE)
    assert client.post(URL, json={"phone": PHONE, "code": code}).status_code == 201


def test_a_code_is_single_use(client, api):
    code = api.request_code(PHONE)
    assert client.post(URL, json={"phone": PHONE, "code": code}).status_code == 201
    again = client.post(URL, json={"phone": PHONE, "code": code})
    assert again.status_code == 401
    assert again.json["code"] == "code_expired"


def test_a_code_expires_after_its_ttl(client, api, clock):
    code = api.request_code(PHONE)
    clock.advance(seconds=300)
    response = client.post(URL, json={"phone": PHONE, "code": code})
    assert response.status_code == 401
    assert response.json["code"] == "code_expired"


def test_a_code_is_good_until_just_before_its_ttl(client, api, clock):
    code = api.request_code(PHONE)
    clock.advance(seconds=299)
    assert client.post(URL, json={"phone": PHONE, "code": code}).status_code == 201


def test_no_code_was_ever_sent_is_code_expired(client):
    response = client.post(URL, json={"phone": PHONE, "code": "1234"})
    assert response.status_code == 401
    assert response.json["code"] == "code_expired"


def test_a_code_is_bound_to_its_phone(client, api):
    code = api.request_code(PHONE)
    api.request_code("+79997654321")
    response = client.post(URL, json={"phone": "+79997654321", "code": code})
    # Either wrong for that phone, or by chance the same digits: never a sign-in as PHONE.
    if response.status_code == 201:
        assert response.json["user"]["phone"] == "+79997654321"
    else:
        assert response.json["code"] == "code_invalid"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone": PHONE}, "code"),
        ({"code": "1234"}, "phone"),
        ({"phone": PHONE, "code": "12a4"}, "code"),
        ({"phone": PHONE, "code": 1234}, "code"),
        ({"phone": PHONE, "code": "1234", "extra": 1}, "extra"),
        ({"phone": PHONE, "code": "1234", "invite_code": "bad code!"}, "invite_code"),
        ({"phone": PHONE, "code": "1234", "invite_code": "Zy8Wq\u0000"}, "invite_code"),
    ],
)
def test_malformed_bodies_are_validation_errors(client, body, field):
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]


def test_the_sign_in_starts_a_session_row(api):
    api.sign_in(PHONE)
    assert db.session.scalar(select(func.count()).select_from(AuthSession)) == 1


class TestInviteCodeAtSignIn:
    def test_a_valid_invite_code_is_activated_with_the_sign_up(self, api):
        inviter = api.sign_in("+79990000001")
        tokens = api.sign_in(PHONE, invite_code=inviter["user"]["invite_code"])
        assert tokens["user"]["activated_invite_code"] == inviter["user"]["invite_code"]
        assert tokens["user"]["invited_at"] is not None
        assert api.profile(inviter)["referrals"] == [PHONE]

    def test_an_unknown_invite_code_fails_the_whole_sign_in(self, client, api):
        code = api.request_code(PHONE)
        response = client.post(URL, json={"phone": PHONE, "code": code, "invite_code": "ZZZZZZ"})
        assert response.status_code == 404
        assert response.json["code"] == "invite_code_not_found"
        assert users_count() == 0
        # the code was not spent: the same code still signs in
        assert client.post(URL, json={"phone": PHONE, "code": code}).status_code == 201

    def test_an_existing_user_who_already_activated_gets_409_and_nothing_changes(self, client, api, clock):
        first = api.sign_in("+79990000001")
        second = api.sign_in("+79990000002")
        api.sign_in(PHONE, invite_code=first["user"]["invite_code"])
        clock.advance(seconds=60)
        code = api.request_code(PHONE)
        body = {"phone": PHONE, "code": code, "invite_code": second["user"]["invite_code"]}
        response = client.post(URL, json=body)
        assert response.status_code == 409
        assert response.json["code"] == "invite_already_activated"
        assert db.session.scalar(select(func.count()).select_from(AuthSession)) == 3
        assert not db.session.scalars(select(LoginCode).where(LoginCode.phone == PHONE)).one().spent_at

    def test_an_existing_user_entering_their_own_code_at_sign_in_is_refused(self, client, api, clock):
        me = api.sign_in(PHONE)
        clock.advance(seconds=60)
        code = api.request_code(PHONE)
        response = client.post(URL, json={"phone": PHONE, "code": code, "invite_code": me["user"]["invite_code"]})
        assert response.status_code == 422
        assert response.json["code"] == "invite_code_own"

    def test_a_null_invite_code_is_the_same_as_none(self, client, api):
        code = api.request_code(PHONE)
        response = client.post(URL, json={"phone": PHONE, "code": code, "invite_code": None})
        assert response.status_code == 201
        assert response.json["user"]["activated_invite_code"] is None

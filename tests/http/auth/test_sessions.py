"""Refresh rotation with reuse detection, logout, and every token problem as a 401 problem."""

from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token

from referral.extensions import db
from referral.infra.models import User
from tests.conftest import bearer

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
PROFILE = "/api/v1/profile"


def test_refresh_gives_a_new_pair_that_works(client, api):
    tokens = api.sign_in("+79991234567")
    response = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200
    assert list(response.json) == ["access_token", "refresh_token", "token_type", "expires_in"]
    assert response.json["refresh_token"] != tokens["refresh_token"]
    assert client.get(PROFILE, headers=bearer(response.json["access_token"])).status_code == 200
    assert client.post(REFRESH, headers=bearer(response.json["refresh_token"])).status_code == 200


def test_a_spent_refresh_token_is_revoked_and_ends_the_whole_session(client, api):
    tokens = api.sign_in("+79991234567")
    rotated = client.post(REFRESH, headers=bearer(tokens["refresh_token"])).json
    reuse = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert reuse.status_code == 401
    assert reuse.json["code"] == "token_revoked"
    # the thief's replay also ends the legitimate holder's tokens of that session
    for token, url, method in [
        (rotated["refresh_token"], REFRESH, client.post),
        (rotated["access_token"], PROFILE, client.get),
        (tokens["access_token"], PROFILE, client.get),
    ]:
        response = method(url, headers=bearer(token))
        assert response.status_code == 401
        assert response.json["code"] == "token_revoked"


def test_reuse_ends_only_that_session(client, api, clock):
    phone = "+79991234567"
    laptop = api.sign_in(phone)
    clock.advance(seconds=60)
    phone_app = api.sign_in(phone)
    client.post(REFRESH, headers=bearer(laptop["refresh_token"]))
    client.post(REFRESH, headers=bearer(laptop["refresh_token"]))
    assert client.get(PROFILE, headers=phone_app["headers"]).status_code == 200


def test_logout_ends_the_session_and_answers_204(client, api):
    tokens = api.sign_in("+79991234567")
    response = client.post(LOGOUT, headers=tokens["headers"])
    assert response.status_code == 204
    assert response.data == b""
    for token, url, method in [
        (tokens["access_token"], PROFILE, client.get),
        (tokens["refresh_token"], REFRESH, client.post),
    ]:
        after = method(url, headers=bearer(token))
        assert after.status_code == 401
        assert after.json["code"] == "token_revoked"


def test_logout_leaves_other_sessions_alone(client, api, clock):
    first = api.sign_in("+79991234567")
    clock.advance(seconds=60)
    second = api.sign_in("+79991234567")
    client.post(LOGOUT, headers=first["headers"])
    assert client.get(PROFILE, headers=second["headers"]).status_code == 200


def test_a_missing_token_is_token_missing(client):
    response = client.get(PROFILE)
    assert response.status_code == 401
    assert response.json["code"] == "token_missing"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token abc", ""])
def test_a_header_that_is_not_a_bearer_token_is_token_missing(client, header):
    response = client.get(PROFILE, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["code"] == "token_missing"


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.xxxx", "Bearer"])
def test_a_bearer_token_that_does_not_decode_is_token_invalid(client, header):
    response = client.get(PROFILE, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"
    assert "msg" not in response.json


def test_a_token_signed_with_another_key_is_token_invalid(client, app, api):
    tokens = api.sign_in("+79991234567")
    header, payload, _ = tokens["access_token"].split(".")
    response = client.get(PROFILE, headers=bearer(f"{header}.{payload}.c2lnbmF0dXJl"))
    assert response.json["code"] == "token_invalid"


def test_an_expired_access_token_is_token_expired(client, app, api):
    tokens = api.sign_in("+79991234567")
    sid = tokens_sid(app, tokens["access_token"])
    expired = create_access_token(
        str(tokens["user"]["id"]), additional_claims={"sid": sid}, expires_delta=timedelta(seconds=-1)
    )
    response = client.get(PROFILE, headers=bearer(expired))
    assert response.status_code == 401
    assert response.json["code"] == "token_expired"


def test_an_access_token_cannot_refresh(client, api):
    tokens = api.sign_in("+79991234567")
    response = client.post(REFRESH, headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


def test_a_refresh_token_is_not_an_access_token(client, api):
    tokens = api.sign_in("+79991234567")
    response = client.get(PROFILE, headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


def test_a_token_without_a_session_is_revoked(client, app):
    response = client.get(PROFILE, headers=bearer(create_access_token("1")))
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"


def test_the_tokens_of_a_deleted_user_stop_working(client, api):
    tokens = api.sign_in("+79991234567")
    db.session.delete(db.session.get(User, tokens["user"]["id"]))
    db.session.commit()
    response = client.get(PROFILE, headers=tokens["headers"])
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"


def test_an_expired_session_ends_its_tokens(client, api, clock):
    tokens = api.sign_in("+79991234567")
    clock.advance(days=31)
    response = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"


def tokens_sid(app, token):
    from flask_jwt_extended import decode_token

    return decode_token(token)["sid"]

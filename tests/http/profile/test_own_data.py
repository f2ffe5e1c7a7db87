"""What people do with their own account through the API: their devices, their data, leaving."""

import json

import pytest
from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import User
from tests.conftest import bearer, ip_of

SESSIONS = "/api/v1/profile/sessions"
PHONE_ONE = "+79990000001"
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"
)


def sign_in_on(client, api, phone, user_agent):
    code = api.request_code(phone)
    response = client.post(
        "/api/v1/auth/token",
        json={"phone": phone, "code": code},
        headers={"User-Agent": user_agent},
        environ_base=ip_of(phone),
    )
    assert response.status_code in (200, 201), response.json
    return bearer(response.json["access_token"]), response.json


def test_the_devices_are_listed_with_what_they_are_and_which_one_is_asking(client, api, clock):
    phone_headers, _ = sign_in_on(client, api, PHONE_ONE, ANDROID_CHROME)
    clock.advance(seconds=61)
    laptop_headers, _ = sign_in_on(client, api, PHONE_ONE, "curl/8.5.0")
    items = client.get(SESSIONS, headers=laptop_headers).json["items"]
    assert [(item["device"], item["current"]) for item in items] == [
        ("curl", True),
        ("Chrome on Android", False),
    ]
    assert list(items[0]) == ["id", "device", "created_at", "last_used_at", "current"]


def test_one_device_can_be_ended_and_its_tokens_stop_working(client, api, clock):
    phone_headers, _ = sign_in_on(client, api, PHONE_ONE, ANDROID_CHROME)
    clock.advance(seconds=61)
    laptop_headers, _ = sign_in_on(client, api, PHONE_ONE, "curl/8.5.0")
    phone_session = next(
        item for item in client.get(SESSIONS, headers=laptop_headers).json["items"] if not item["current"]
    )
    assert client.delete(f"{SESSIONS}/{phone_session['id']}", headers=laptop_headers).status_code == 204
    assert client.get("/api/v1/profile", headers=phone_headers).json["code"] == "token_revoked"
    assert client.get("/api/v1/profile", headers=laptop_headers).status_code == 200


def test_ending_a_session_that_is_not_yours_is_404_and_ends_nothing(client, api):
    anna_headers, _ = sign_in_on(client, api, PHONE_ONE, "curl/1")
    boris_headers, _ = sign_in_on(client, api, "+79990000002", "curl/2")
    boris_session = client.get(SESSIONS, headers=boris_headers).json["items"][0]["id"]
    response = client.delete(f"{SESSIONS}/{boris_session}", headers=anna_headers)
    assert response.status_code == 404
    assert response.json["code"] == "session_not_found"
    assert client.get("/api/v1/profile", headers=boris_headers).status_code == 200


def test_all_other_devices_can_be_ended_at_once(client, api, clock):
    others = []
    for n in range(3):
        others.append(sign_in_on(client, api, PHONE_ONE, f"curl/{n}")[0])
        clock.advance(seconds=61)
    mine, _ = sign_in_on(client, api, PHONE_ONE, "curl/mine")
    assert client.delete(SESSIONS, headers=mine).json == {"ended": 3}
    assert all(client.get("/api/v1/profile", headers=headers).status_code == 401 for headers in others)
    assert [item["current"] for item in client.get(SESSIONS, headers=mine).json["items"]] == [True]


def test_the_export_holds_the_profile_every_referral_the_sessions_and_the_codes_sent(client, api):
    owner = api.sign_in(PHONE_ONE)
    for n in range(3):
        api.sign_in(f"+7999000010{n}", invite_code=owner["user"]["invite_code"])
    response = client.get("/api/v1/profile/export", headers=owner["headers"])
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="referral-data.json"'
    data = json.loads(response.get_data(as_text=True))
    assert list(data) == ["profile", "referrals", "sessions", "codes_sent", "exported_at"]
    assert data["profile"]["phone"] == PHONE_ONE and data["profile"]["referrals_count"] == 3
    assert [person["phone"] for person in data["referrals"]] == ["+79990000102", "+79990000101", "+79990000100"]
    assert len(data["sessions"]) == 1 and data["sessions"][0]["current"] is True
    assert [(sent["purpose"], sent["status"]) for sent in data["codes_sent"]] == [("login", "sent")]


def test_an_account_is_deleted_only_with_a_fresh_code_sent_to_its_phone(client, api, sms):
    inviter = api.sign_in(PHONE_ONE)
    me = api.sign_in("+79990000002", invite_code=inviter["user"]["invite_code"])
    asked = client.post("/api/v1/profile/deletion", headers=me["headers"])
    assert asked.status_code == 202
    assert sms[-1][0] == "+79990000002" and "УДАЛЕНИЕ" in sms[-1][1]
    code = asked.json["debug_code"]
    wrong_code = "1111" if code != "1111" else "2222"
    wrong = client.post("/api/v1/profile/deletion/confirm", headers=me["headers"], json={"code": wrong_code})
    assert wrong.status_code == 401 and wrong.json["code"] == "code_invalid"
    assert db.session.scalars(select(User).where(User.phone == "+79990000002")).one_or_none() is not None
    done = client.post("/api/v1/profile/deletion/confirm", headers=me["headers"], json={"code": code})
    assert done.status_code == 204, done.json
    assert db.session.scalars(select(User).where(User.phone == "+79990000002")).one_or_none() is None
    assert client.get("/api/v1/profile", headers=me["headers"]).status_code == 401
    assert api.profile(inviter)["referrals_count"] == 0


@pytest.mark.parametrize("path", ["/sessions", "/export", "/deletion"])
def test_every_own_data_endpoint_needs_a_token(client, path):
    method = client.post if path == "/deletion" else client.get
    response = method(f"/api/v1/profile{path}")
    assert response.status_code == 401 and response.json["code"] == "token_missing"


def test_a_user_agent_that_cannot_be_stored_is_not_kept_and_the_sign_in_goes_through(client, api):
    headers, _ = sign_in_on(client, api, PHONE_ONE, "bad\x00agent")
    assert client.get(SESSIONS, headers=headers).json["items"][0]["device"] is None

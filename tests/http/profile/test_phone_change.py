"""POST /api/v1/profile/phone and /phone/confirm: move the account to a new number."""

from tests.conftest import bearer

START = "/api/v1/profile/phone"
CONFIRM = "/api/v1/profile/phone/confirm"
OLD, NEW = "+79990000001", "+79990000002"


def test_the_code_goes_to_the_new_number(client, api, sms):
    tokens = api.sign_in(OLD)
    response = client.post(START, headers=tokens["headers"], json={"phone": "8 999 000-00-02"})
    assert response.status_code == 202
    assert response.json["phone"] == NEW
    assert set(response.json) == {"detail", "phone", "expires_in", "resend_in", "debug_code"}
    assert sms[-1][0] == NEW
    assert response.json["debug_code"] in sms[-1][1]


def test_confirming_moves_the_account_and_gives_a_new_token_pair(client, api):
    tokens = api.sign_in(OLD)
    code = client.post(START, headers=tokens["headers"], json={"phone": NEW}).json["debug_code"]
    response = client.post(CONFIRM, headers=tokens["headers"], json={"phone": NEW, "code": code})
    assert response.status_code == 200
    assert list(response.json) == ["access_token", "refresh_token", "token_type", "expires_in", "user"]
    assert response.json["user"]["phone"] == NEW
    assert response.json["user"]["invite_code"] == tokens["user"]["invite_code"]
    assert client.get("/api/v1/profile", headers=bearer(response.json["access_token"])).json["phone"] == NEW


def test_every_earlier_session_is_revoked(client, api, clock):
    tokens = api.sign_in(OLD)
    clock.advance(seconds=60)
    other_device = api.sign_in(OLD)
    code = client.post(START, headers=tokens["headers"], json={"phone": NEW}).json["debug_code"]
    client.post(CONFIRM, headers=tokens["headers"], json={"phone": NEW, "code": code})
    for token in (tokens["access_token"], other_device["access_token"]):
        assert client.get("/api/v1/profile", headers=bearer(token)).json["code"] == "token_revoked"
    assert client.post("/api/v1/auth/refresh", headers=bearer(other_device["refresh_token"])).status_code == 401


def test_the_new_number_signs_in_afterwards_and_the_old_one_is_a_new_user(client, api, clock):
    tokens = api.sign_in(OLD)
    code = client.post(START, headers=tokens["headers"], json={"phone": NEW}).json["debug_code"]
    client.post(CONFIRM, headers=tokens["headers"], json={"phone": NEW, "code": code})
    clock.advance(seconds=60)
    assert api.sign_in(NEW)["user"]["id"] == tokens["user"]["id"]
    assert api.sign_in(OLD)["user"]["id"] != tokens["user"]["id"]


def test_a_number_someone_else_has_is_409(client, api):
    tokens = api.sign_in(OLD)
    api.sign_in(NEW)
    response = client.post(START, headers=tokens["headers"], json={"phone": NEW})
    assert response.status_code == 409
    assert response.json["code"] == "phone_taken"


def test_a_number_taken_between_start_and_confirm_is_409(client, api):
    tokens = api.sign_in(OLD)
    code = client.post(START, headers=tokens["headers"], json={"phone": NEW}).json["debug_code"]
    api.sign_in(NEW)
    response = client.post(CONFIRM, headers=tokens["headers"], json={"phone": NEW, "code": code})
    assert response.status_code == 409
    assert response.json["code"] == "phone_taken"
    assert api.profile(tokens)["phone"] == OLD


def test_your_own_number_is_422_phone_unchanged(client, api):
    tokens = api.sign_in(OLD)
    response = client.post(START, headers=tokens["headers"], json={"phone": "89990000001"})
    assert response.status_code == 422
    assert response.json["code"] == "phone_unchanged"


def test_an_invalid_number_is_invalid_phone(client, api):
    tokens = api.sign_in(OLD)
    response = client.post(START, headers=tokens["headers"], json={"phone": "12"})
    assert response.json["code"] == "invalid_phone"


def test_a_wrong_code_counts_and_changes_nothing(client, api):
    tokens = api.sign_in(OLD)
    code = client.post(START, headers=tokens["headers"], json={"phone": NEW}).json["debug_code"]
    bad = "0000" if code != "0000" else "1111"
    response = client.post(CONFIRM, headers=tokens["headers"], json={"phone": NEW, "code": bad})
    assert response.status_code == 401
    assert response.json["code"] == "code_invalid"
    assert response.json["attempts_left"] == 4
    assert api.profile(tokens)["phone"] == OLD


def test_a_login_code_for_the_new_number_does_not_confirm_a_change(client, api):
    tokens = api.sign_in(OLD)
    login_code = api.request_code(NEW)
    response = client.post(CONFIRM, headers=tokens["headers"], json={"phone": NEW, "code": login_code})
    assert response.status_code == 401
    assert response.json["code"] == "code_expired"


def test_another_users_change_code_does_not_work_for_you(client, api):
    anna = api.sign_in(OLD)
    boris = api.sign_in("+79990000003")
    code = client.post(START, headers=anna["headers"], json={"phone": NEW}).json["debug_code"]
    response = client.post(CONFIRM, headers=boris["headers"], json={"phone": NEW, "code": code})
    assert response.status_code == 401
    assert response.json["code"] == "code_expired"


def test_asking_again_too_soon_is_429(client, api):
    tokens = api.sign_in(OLD)
    client.post(START, headers=tokens["headers"], json={"phone": NEW})
    response = client.post(START, headers=tokens["headers"], json={"phone": NEW})
    assert response.status_code == 429
    assert response.json["code"] == "code_resend_too_soon"
    assert "Retry-After" in response.headers


def test_phone_change_needs_a_token(client):
    assert client.post(START, json={"phone": NEW}).json["code"] == "token_missing"
    assert client.post(CONFIRM, json={"phone": NEW, "code": "1234"}).json["code"] == "token_missing"

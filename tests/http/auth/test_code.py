"""POST /api/v1/auth/code: send a login code."""

import pytest
from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import LoginCode, SmsSend

URL = "/api/v1/auth/code"


@pytest.mark.parametrize(
    "written",
    ["+79991234567", "89991234567", "79991234567", "9991234567", "+7 (999) 123-45-67", " +7 999 123 45 67 "],
)
def test_every_common_spelling_of_a_phone_is_accepted_and_answered_in_e164(client, written):
    response = client.post(URL, json={"phone": written})
    assert response.status_code == 202
    assert response.json["phone"] == "+79991234567"


def test_answer_has_the_documented_shape(client, app):
    response = client.post(URL, json={"phone": "+79991234567"})
    body = response.json
    assert list(body) == ["detail", "phone", "expires_in", "resend_in", "debug_code"]
    assert body["detail"] == "Code sent."
    assert body["expires_in"] == app.config["OTP_TTL_SECONDS"] == 300
    assert body["resend_in"] == app.config["OTP_RESEND_SECONDS"] == 60
    assert len(body["debug_code"]) == 4 and body["debug_code"].isdigit()


def test_debug_code_is_left_out_when_otp_debug_is_off(client, app):
    app.config["OTP_DEBUG"] = False
    response = client.post(URL, json={"phone": "+79991234567"})
    assert response.status_code == 202
    assert "debug_code" not in response.json


def test_code_length_follows_the_setting(client, app):
    app.config["OTP_LENGTH"] = 6
    assert len(client.post(URL, json={"phone": "+79991234567"}).json["debug_code"]) == 6


def test_the_code_goes_out_by_sms_to_the_e164_number(client, sms):
    code = client.post(URL, json={"phone": "8 999 123-45-67"}).json["debug_code"]
    assert len(sms) == 1
    phone, text = sms[0]
    assert phone == "+79991234567"
    assert code in text


def test_answer_is_the_same_for_registered_and_unknown_phones(client, api, clock):
    api.sign_in("+79991112233")
    clock.advance(seconds=60)
    known = client.post(URL, json={"phone": "+79991112233"})
    unknown = client.post(URL, json={"phone": "+79994445566"})
    assert known.status_code == unknown.status_code == 202
    assert set(known.json) == set(unknown.json)


def test_code_is_stored_hashed_never_in_clear(client, app):
    code = client.post(URL, json={"phone": "+79991234567"}).json["debug_code"]
    row = db.session.scalars(select(LoginCode)).one()
    assert code not in row.code_hash
    assert len(row.code_hash) == 64


@pytest.mark.parametrize(
    "phone", ["12345", "+7999123456789", "+74951234567", "8 (800) 555-35-35", "not a phone", "", "+" + "7" * 40]
)
def test_a_number_that_is_not_a_valid_mobile_is_rejected(client, phone):
    response = client.post(URL, json={"phone": phone})
    assert response.status_code == 422
    assert response.json["code"] == "invalid_phone"
    assert response.json["errors"] == {"phone": ["Enter a valid mobile phone number."]}
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("body", [{}, {"phone": None}, {"phone": 79991234567}, {"phone": ["+79991234567"]}])
def test_a_missing_or_mistyped_phone_is_a_validation_error(client, body):
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert "phone" in response.json["errors"]


def test_unknown_fields_are_rejected(client):
    response = client.post(URL, json={"phone": "+79991234567", "phnoe": "x"})
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert response.json["errors"] == {"phnoe": ["Unknown field."]}


def test_a_second_code_within_the_resend_interval_is_refused_with_retry_after(client, clock):
    client.post(URL, json={"phone": "+79991234567"})
    clock.advance(seconds=20)
    response = client.post(URL, json={"phone": "+79991234567"})
    assert response.status_code == 429
    assert response.json["code"] == "code_resend_too_soon"
    assert response.headers["Retry-After"] == "40"


def test_a_code_that_was_spent_does_not_hold_back_the_next_one(client, api, clock, sms):
    api.sign_in("+79991234567")  # signed in with a code a moment ago, then signed out, say
    response = client.post(URL, json={"phone": "+79991234567"})
    assert response.status_code == 202, response.json
    assert len(sms) == 2


def test_an_unused_code_holds_back_the_next_one_for_the_interval(client, clock):
    client.post(URL, json={"phone": "+79991234567"})
    clock.advance(seconds=59)
    assert client.post(URL, json={"phone": "+79991234567"}).json["code"] == "code_resend_too_soon"
    clock.advance(seconds=1)
    assert client.post(URL, json={"phone": "+79991234567"}).status_code == 202


def test_the_hourly_cap_still_counts_codes_that_were_spent(client, api, clock):
    for _ in range(5):  # OTP_MAX_SENDS_PER_HOUR
        api.sign_in("+79991234567")
    response = client.post(URL, json={"phone": "+79991234567"})
    assert response.status_code == 429
    assert response.json["code"] == "rate_limited"


def test_a_new_code_after_the_interval_replaces_the_previous_one(client, clock):
    first = client.post(URL, json={"phone": "+79991234567"}).json["debug_code"]
    clock.advance(seconds=60)
    second = client.post(URL, json={"phone": "+79991234567"}).json["debug_code"]
    assert db.session.scalar(select(db.func.count()).select_from(LoginCode)) == 1
    if first != second:
        wrong = client.post("/api/v1/auth/token", json={"phone": "+79991234567", "code": first})
        assert wrong.status_code == 401
    right = client.post("/api/v1/auth/token", json={"phone": "+79991234567", "code": second})
    assert right.status_code == 201


def test_the_resend_interval_is_per_phone(client):
    assert client.post(URL, json={"phone": "+79991234567"}).status_code == 202
    assert client.post(URL, json={"phone": "+79991234568"}).status_code == 202


def test_a_full_sms_queue_answers_503_and_keeps_no_code(client, app, monkeypatch):
    monkeypatch.setattr(app.extensions["referral.sms"], "has_room", lambda: False)
    response = client.post(URL, json={"phone": "+79991234567"})
    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
    assert "Retry-After" in response.headers
    assert db.session.scalar(select(db.func.count()).select_from(LoginCode)) == 0
    assert db.session.scalar(select(db.func.count()).select_from(SmsSend)) == 0


def test_a_queue_that_refuses_after_the_commit_withdraws_the_code_and_its_send(client, app, monkeypatch, sms):
    from referral.infra.sms import SmsQueueFull

    dispatcher = app.extensions["referral.sms"]

    def refuse(send_id, phone, text):
        raise SmsQueueFull

    monkeypatch.setattr(dispatcher, "submit", refuse)
    response = client.post(URL, json={"phone": "+79991234567"})
    assert response.status_code == 503
    assert db.session.scalar(select(db.func.count()).select_from(LoginCode)) == 0
    assert db.session.scalar(select(db.func.count()).select_from(SmsSend)) == 0  # not counted by the caps
    monkeypatch.undo()
    assert client.post(URL, json={"phone": "+79991234567"}).status_code == 202  # no resend wait
    assert len(sms) == 1


def test_a_delivered_code_is_recorded_as_sent(client):
    client.post(URL, json={"phone": "+79991234567"})
    send = db.session.scalars(select(SmsSend)).one()
    assert (send.status, send.attempts, send.purpose) == ("sent", 1, "login")
    assert send.delivered_at is not None


def test_the_sms_is_in_russian_for_a_russian_number_unless_the_request_asks_for_english(client, sms):
    client.post(URL, json={"phone": "+79991234567"})
    client.post(URL, json={"phone": "+79991234568"}, headers={"Accept-Language": "en-GB,en;q=0.9"})
    (_, russian), (_, english) = sms
    assert "код для входа" in russian
    assert "is your referral sign-in code" in english


def test_the_sms_ends_with_the_app_hash_and_the_origin_bound_line_when_set(client, app, sms):
    app.config.update(SMS_WEBOTP_HOST="referral.example", SMS_APP_HASH="FA+9qCX9VSu")
    code = client.post(URL, json={"phone": "+79991234567"}).json["debug_code"]
    lines = sms[0][1].split("\n")
    assert lines[-1] == f"@referral.example #{code}"  # the WebOTP format: the last line
    assert "FA+9qCX9VSu" in lines


def test_a_limit_store_failing_after_the_answer_leaves_the_answer(client, monkeypatch):
    """The per-IP budget is spent after the answer (only a code sent costs it): if the store fails just then
    (Redis going down), the deduction is lost and logged, and the 202 stands; the code went out."""
    from redis.exceptions import ConnectionError as RedisGone

    from referral.extensions import limiter

    def gone(*args, **kwargs):
        raise RedisGone("Redis went away")

    monkeypatch.setattr(limiter.limiter, "hit", gone)
    assert client.post("/api/v1/auth/code", json={"phone": "+79990000123"}).status_code == 202

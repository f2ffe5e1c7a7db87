"""The attacks on a phone-code login, each shown failing: pumping, brute force, enumeration of limits."""

import logging

import pytest
from sqlalchemy import func, select
from werkzeug.middleware.proxy_fix import ProxyFix

from referral.domain import codes as otp
from referral.extensions import db
from referral.infra.models import LoginCode, SmsSend

CODE = "/api/v1/auth/code"
TOKEN = "/api/v1/auth/token"
PHONE = "+79991234567"


def from_ip(n: int) -> dict[str, str]:
    return {"REMOTE_ADDR": f"192.0.2.{n}"}


def wrong(code: str, n: int = 0) -> str:
    guess = f"{n:04d}"
    return guess if guess != code else f"{n + 1:04d}"


class TestPerPhoneSendCaps:
    def test_a_sixth_code_in_an_hour_is_refused_with_retry_after(self, client, clock):
        for n in range(5):
            assert client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(n)).status_code == 202
            clock.advance(seconds=61)
        response = client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(9))
        assert response.status_code == 429
        assert response.json["code"] == "rate_limited"
        # the first of the five was sent 5 x 61 s ago: it leaves the hour in 3600 - 305 s
        assert response.headers["Retry-After"] == str(3600 - 305)

    def test_a_refused_code_request_writes_nothing(self, client, clock):
        """Neither a send counted against the phone nor a new code: the last one still signs in."""
        for n in range(5):
            code = client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(n)).json["debug_code"]
            clock.advance(seconds=61)
        assert client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(9)).status_code == 429
        assert db.session.scalar(select(func.count()).select_from(SmsSend).where(SmsSend.phone == PHONE)) == 5
        assert client.post(TOKEN, json={"phone": PHONE, "code": code}, environ_base=from_ip(10)).status_code == 201

    def test_the_hourly_cap_frees_up_as_the_hour_moves_on(self, client, clock):
        for n in range(5):
            client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(n))
            clock.advance(seconds=61)
        clock.advance(seconds=3600 - 305)
        assert client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(9)).status_code == 202

    def test_an_eleventh_code_in_a_day_is_refused(self, client, clock):
        statuses = []
        for n in range(11):
            statuses.append(client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(n)).status_code)
            clock.advance(minutes=13)  # 4.6 an hour: under the hourly cap
        assert statuses == [202] * 10 + [429]

    def test_caps_are_per_phone(self, client, clock):
        for n in range(5):
            client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(n))
            clock.advance(seconds=61)
        assert client.post(CODE, json={"phone": "+79997654321"}, environ_base=from_ip(8)).status_code == 202

    def test_caps_are_off_when_rate_limiting_is_off(self, client, app, clock):
        app.config["RATELIMIT_ENABLED"] = False
        for n in range(7):
            assert client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(n)).status_code == 202
            clock.advance(seconds=61)

    def test_phone_change_codes_count_against_the_same_caps(self, client, api, clock):
        tokens = api.sign_in("+79990000001")
        for n in range(5):
            client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(n))
            clock.advance(seconds=61)
        response = client.post("/api/v1/profile/phone", headers=tokens["headers"], json={"phone": PHONE})
        assert response.status_code == 429
        assert response.json["code"] == "rate_limited"


class TestLockout:
    def spend_wrong_codes(self, client, api, clock, count):
        """``count`` wrong codes for PHONE, asking for a new code whenever one dies."""
        statuses, code = [], None
        for n in range(count):
            if n % 5 == 0:
                clock.advance(seconds=61)
                code = api.request_code(PHONE)
            response = client.post(TOKEN, json={"phone": PHONE, "code": wrong(code, n)}, environ_base=from_ip(n))
            statuses.append(response.status_code)
        return statuses, code

    def test_ten_wrong_codes_in_a_row_lock_the_phone_for_an_hour(self, client, api, clock):
        statuses, code = self.spend_wrong_codes(client, api, clock, 10)
        assert statuses == [401] * 10
        clock.advance(seconds=61)
        asked = client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(50))
        assert asked.status_code == 429
        assert asked.json["code"] == "rate_limited"
        assert 3500 < int(asked.headers["Retry-After"]) <= 3600

    def test_a_locked_phone_refuses_even_the_right_code(self, client, api, clock):
        statuses, code = self.spend_wrong_codes(client, api, clock, 9)
        client.post(TOKEN, json={"phone": PHONE, "code": wrong(code, 99)}, environ_base=from_ip(60))
        right = client.post(TOKEN, json={"phone": PHONE, "code": code}, environ_base=from_ip(61))
        assert right.status_code == 429
        assert right.json["code"] == "rate_limited"

    def test_the_lock_ends_after_its_time(self, client, api, clock):
        self.spend_wrong_codes(client, api, clock, 10)
        clock.advance(seconds=3600)
        code = api.request_code(PHONE)
        assert client.post(TOKEN, json={"phone": PHONE, "code": code}, environ_base=from_ip(70)).status_code == 201

    def test_a_right_code_resets_the_run_of_wrong_ones(self, client, api, clock):
        _, code = self.spend_wrong_codes(client, api, clock, 4)
        assert client.post(TOKEN, json={"phone": PHONE, "code": code}, environ_base=from_ip(80)).status_code == 201
        statuses, _ = self.spend_wrong_codes(client, api, clock, 9)
        assert statuses == [401] * 9
        clock.advance(seconds=61)
        assert client.post(CODE, json={"phone": PHONE}, environ_base=from_ip(81)).status_code == 202

    def test_a_brute_force_loop_is_stopped_long_before_it_finds_the_code(self, client, api, clock):
        code = api.request_code(PHONE)
        answers = []
        for guess in (f"{n:04d}" for n in range(10_000)):
            if guess == code:
                continue
            response = client.post(
                TOKEN, json={"phone": PHONE, "code": guess}, environ_base=from_ip(len(answers) % 200)
            )
            answers.append(response.status_code)
            if len(answers) == 30:
                break
        assert 201 not in answers
        assert answers[:5] == [401] * 5
        assert set(answers[5:]) == {429}
        # and the real code no longer helps
        assert client.post(TOKEN, json={"phone": PHONE, "code": code}, environ_base=from_ip(250)).status_code == 429


class TestPerIpCaps:
    def test_a_pumping_loop_across_many_numbers_is_capped_per_ip(self, client):
        statuses = [client.post(CODE, json={"phone": f"+7999123{n:04d}"}).status_code for n in range(8)]
        assert statuses == [202] * 5 + [429] * 3
        response = client.post(CODE, json={"phone": "+79991239999"})
        assert response.json["code"] == "rate_limited"
        assert 1 <= int(response.headers["Retry-After"]) <= 60

    def test_another_ip_is_not_held_back_by_a_noisy_one(self, client):
        for n in range(6):
            client.post(CODE, json={"phone": f"+7999123{n:04d}"}, environ_base=from_ip(1))
        assert client.post(CODE, json={"phone": "+79991239999"}, environ_base=from_ip(2)).status_code == 202

    def test_code_checks_are_capped_per_ip_across_phones(self, client):
        statuses = [
            client.post(TOKEN, json={"phone": f"+7999123{n:04d}", "code": "1234"}).status_code for n in range(22)
        ]
        assert statuses[:20] == [401] * 20
        assert statuses[20:] == [429, 429]

    def test_x_forwarded_for_is_ignored_without_trusted_proxies(self, client):
        statuses = [
            client.post(CODE, json={"phone": f"+7999123{n:04d}"}, headers={"X-Forwarded-For": f"203.0.113.{n}"})
            for n in range(6)
        ]
        assert statuses[-1].status_code == 429

    def test_behind_one_trusted_proxy_only_the_address_it_saw_counts(self, app, client, monkeypatch):
        monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1))
        spoofed = [
            client.post(
                CODE,
                json={"phone": f"+7999123{n:04d}"},
                headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7"},
            ).status_code
            for n in range(6)
        ]
        assert spoofed == [202] * 5 + [429]
        other = client.post(CODE, json={"phone": "+79991239999"}, headers={"X-Forwarded-For": "203.0.113.8"})
        assert other.status_code == 202


class TestRegions:
    def test_numbers_outside_the_allowed_regions_get_no_code(self, client, sms):
        response = client.post(CODE, json={"phone": "+447400123456"})
        assert response.status_code == 422
        assert response.json["code"] == "phone_region_not_allowed"
        assert sms == []

    def test_allowed_regions_are_a_setting(self, client, app):
        app.config["SMS_ALLOWED_REGIONS"] = ["RU", "GB"]
        assert client.post(CODE, json={"phone": "+447400123456"}).status_code == 202

    def test_a_phone_change_to_a_foreign_number_is_refused_too(self, client, api):
        tokens = api.sign_in(PHONE)
        response = client.post("/api/v1/profile/phone", headers=tokens["headers"], json={"phone": "+447400123456"})
        assert response.json["code"] == "phone_region_not_allowed"


class TestTestNumbers:
    @pytest.fixture(autouse=True)
    def test_number(self, app):
        app.config["TEST_PHONE_NUMBERS"] = {"+79990000001": "4321", "+447400123456": "5555"}

    def test_a_test_number_signs_in_with_its_fixed_code_and_no_sms(self, client, sms):
        response = client.post(CODE, json={"phone": "+79990000001"})
        assert response.status_code == 202
        assert response.json["debug_code"] == "4321"
        assert sms == []
        assert client.post(TOKEN, json={"phone": "+79990000001", "code": "4321"}).status_code == 201

    def test_send_limits_do_not_apply_to_test_numbers(self, client):
        statuses = [
            client.post(CODE, json={"phone": "+79990000001"}, environ_base=from_ip(n)).status_code for n in range(12)
        ]
        assert set(statuses) == {202}

    def test_wrong_codes_still_count_for_test_numbers(self, client):
        client.post(CODE, json={"phone": "+79990000001"})
        response = client.post(TOKEN, json={"phone": "+79990000001", "code": "0000"})
        assert response.status_code == 401
        assert response.json["attempts_left"] == 4

    def test_a_test_number_abroad_needs_no_allowed_region(self, client):
        assert client.post(CODE, json={"phone": "+447400123456"}).status_code == 202


def test_codes_are_kept_and_compared_only_as_keyed_hashes(client, api, queries):
    """The table never holds a code, and the code is spent by matching its HMAC
    (keyed with SECRET_KEY) in the same UPDATE that spends it. The timing of that comparison tells nothing
    useful: a client sends codes, never hashes, and cannot aim at a prefix of an HMAC it cannot compute."""
    code = api.request_code(PHONE)
    row = db.session.scalars(select(LoginCode).where(LoginCode.phone == PHONE)).one()
    assert row.code_hash == otp.hash_code(otp.Purpose.LOGIN, PHONE, code) != code
    sent = queries.during(lambda: client.post(TOKEN, json={"phone": PHONE, "code": code}))
    spend = next(statement for statement in sent if statement.startswith("UPDATE login_codes"))
    assert "code_hash" in spend


def test_security_events_are_logged_with_masked_phones_and_never_the_code(client, api, clock, caplog):
    with caplog.at_level(logging.INFO, logger="referral.security"):
        code = api.request_code(PHONE)
        client.post(TOKEN, json={"phone": PHONE, "code": wrong(code)})
        tokens = api.sign_in("+79990000002")
        client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
        client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    events = [record.security for record in caplog.records if hasattr(record, "security")]
    names = [event["event"] for event in events]
    assert {"code_requested", "code_wrong", "refresh_token_reused"} <= set(names)
    assert "phone=+7999***4567" in caplog.text
    assert PHONE not in caplog.text
    assert code not in " ".join(str(event) for event in events)

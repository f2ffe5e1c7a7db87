"""Input nobody meant to send: text that is not valid Unicode, bodies past the limit however they are sent,
cursors this service never issued. Each is a clear 4xx that changes nothing, never a 500."""

import base64
import io

import pytest
from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import User
from tests.web.test_pages import Browser

PROFILE = "/api/v1/profile"
REFERRALS = "/api/v1/profile/referrals"


@pytest.fixture
def user(api):
    return api.sign_in("+79990000000")


def send_raw_json(client, method, url, raw, headers=None):
    """``raw`` as the body, byte for byte: a JSON escape like ``\\ud800`` reaches the server as written."""
    return client.open(url, method=method, data=raw, content_type="application/json", headers=headers or {})


@pytest.mark.parametrize(
    ("raw", "field"),
    [('{"first_name": "\\ud800x"}', "first_name"), ('{"last_name": "x\\udc00"}', "last_name")],
)
def test_a_name_with_a_lone_surrogate_is_422_and_changes_nothing(client, user, raw, field):
    response = send_raw_json(client, "PATCH", PROFILE, raw, user["headers"])
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert response.json["errors"][field] == ["Text must be valid Unicode, without NUL characters."]
    stored = db.session.scalars(select(User).where(User.id == user["user"]["id"])).one()
    assert (stored.first_name, stored.last_name) == ("", "")


@pytest.mark.parametrize(
    ("method", "url", "raw", "field"),
    [
        ("POST", "/api/v1/auth/code", '{"phone": "+7999\\ud8001234567"}', "phone"),
        ("POST", "/api/v1/auth/token", '{"phone": "+79990000001", "code": "1\\udfff"}', "code"),
        (
            "POST",
            "/api/v1/auth/token",
            '{"phone": "+79990000001", "code": "1", "invite_code": "\\ud800"}',
            "invite_code",
        ),
        ("POST", "/api/v1/profile/invite", '{"invite_code": "ab\\ud800"}', "invite_code"),
        ("POST", "/api/v1/profile/phone", '{"phone": "\\udc00"}', "phone"),
        ("PATCH", PROFILE, '{"first_name": "Anna", "extra\\ud800": "x"}', "extra\\ud800"),
    ],
)
def test_any_json_field_with_text_that_is_not_valid_unicode_is_named_in_a_422(client, user, method, url, raw, field):
    response = send_raw_json(client, method, url, raw, user["headers"])
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]


def test_a_query_parameter_with_a_nul_is_a_422(client, user):
    response = client.get(REFERRALS, query_string={"cursor": "abc\x00"}, headers=user["headers"])
    assert response.status_code == 422
    assert "cursor" in response.json["errors"]


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "forged",
    [
        cursor_of("2026-01-01T00:00:00+00:00|" + "9" * 20),  # past BIGINT
        cursor_of("2026-01-01T00:00:00+00:00|-5"),
        cursor_of("2026-01-01T00:00:00+00:00|0"),
        cursor_of("2026-01-01T00:00:00+00:00|" + "9" * 1000),
        cursor_of("0001-01-01T00:00:00+14:00|5"),  # before year 1 once made UTC
        cursor_of("9999-12-31T23:59:59-14:00|5"),  # after year 9999 once made UTC
        cursor_of("2026-01-01T03:00:00+03:00|5"),  # a real instant, but not as this service writes one
        cursor_of("2026-01-01T00:00:00+00:00| 5"),
        cursor_of("2026-01-01T00:00:00+00:00|05"),
        cursor_of("2026-01-01T00:00:00+00:00|\u0665"),  # an Arabic-Indic five: int() reads it
        cursor_of("2026-01-01T00:00:00+00:00|5") + "==",
        cursor_of("2026-01-01 00:00:00+00:00|5"),
        "",
    ],
)
def test_a_cursor_this_service_could_not_have_issued_is_422(client, user, forged):
    response = client.get(REFERRALS, query_string={"cursor": forged}, headers=user["headers"])
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error"
    assert list(response.json["errors"]) == ["cursor"]


def test_a_cursor_as_this_service_writes_it_pages_on(client, user, api):
    for n in range(3):
        api.sign_in(f"+7999000001{n}", invite_code=user["user"]["invite_code"])
    first = client.get(REFERRALS, query_string={"limit": 1}, headers=user["headers"]).json
    again = client.get(REFERRALS, query_string={"limit": 1, "cursor": first["next_cursor"]}, headers=user["headers"])
    assert again.status_code == 200
    assert again.json["items"][0]["phone"] == "+79990000011"
    in_year_one = client.get(
        REFERRALS, query_string={"cursor": cursor_of("0001-01-01T00:00:00+00:00|5")}, headers=user["headers"]
    )
    assert in_year_one.status_code == 200 and in_year_one.json["items"] == []  # in range: simply nothing older


def chunked(client, url, body: bytes, **kwargs):
    """``body`` sent as a server hands on a chunked one: no Content-Length, the stream ended by the server."""
    return client.post(
        url,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", **kwargs.pop("headers", {})},
        environ_overrides={"wsgi.input_terminated": True},
        **kwargs,
    )


def test_a_chunked_body_over_the_limit_is_413_not_read_as_its_first_16_kib(client, sms):
    body = b'{"phone": "+79990000005"}' + b" " * (1 << 20)
    response = chunked(client, "/api/v1/auth/code", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert sms == []


def test_a_chunked_body_exactly_at_the_limit_is_read_whole(client, app):
    body = b'{"phone": "+79990000005"}'
    body += b" " * (app.config["MAX_CONTENT_LENGTH"] - len(body))
    response = chunked(client, "/api/v1/auth/code", body, content_type="application/json")
    assert response.status_code == 202, response.json


def test_a_chunked_form_over_the_limit_is_413_on_the_pages_too(client):
    browser = Browser(client)
    token = browser.csrf()
    body = f"csrf_token={token}&phone=%2B79990000005&pad=".encode() + b"x" * (1 << 20)
    response = chunked(
        browser.client, "/", body, content_type="application/x-www-form-urlencoded", environ_base=browser.environ
    )
    assert response.status_code == 413
    assert "text/html" in response.content_type


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/profile/invite", {"invite_code": "ab\x00c"}),
        ("/profile/names", {"first_name": "A\x00"}),
        ("/profile/phone", {"phone": "+7999\x00"}),
    ],
)
def test_a_form_field_with_a_nul_shows_the_form_again_with_a_message(client, url, fields):
    browser = Browser(client, "+79990000002")
    browser.sign_in()
    page = browser.post(url, **fields)
    assert page.status_code in (404, 422)
    assert 'name="csrf_token"' in page.text  # the form again, not an error page
    assert db.session.scalars(select(User).where(User.phone == "+79990000002")).one().invited_by_id is None


def test_an_invite_link_with_a_nul_is_nobody_s_code(client):
    assert Browser(client).get("/i/ab%00c").status_code == 404

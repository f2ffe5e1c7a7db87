"""Every error is an RFC 9457 problem with a stable code; never a stack trace."""

import pytest
from sqlalchemy.exc import OperationalError

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response, status, code):
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert PROBLEM_KEYS <= set(response.json)
    assert response.json["status"] == status
    assert response.json["code"] == code
    assert response.json["type"] == "about:blank"


def test_an_unknown_route_is_404_not_found(client):
    assert_problem(client.get("/api/v1/nothing"), 404, "not_found")


def test_a_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/v1/auth/code")
    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_a_body_that_is_not_json_is_400_malformed_json(client):
    response = client.post("/api/v1/auth/code", data='{"phone": ', content_type="application/json")
    assert_problem(response, 400, "malformed_json")


def test_invalid_utf8_is_malformed_json(client):
    response = client.post("/api/v1/auth/code", data=b'{"phone": "\xff"}', content_type="application/json")
    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000 + "]" * 5000,  # deeper than Python's recursion limit: json.loads raises RecursionError
        '{"a":' * 2000 + "1" + "}" * 2000,
        '{"phone": ' + "1" * 5000 + "}",  # an integer longer than Python converts from text
        '{"phone": "+79991234567"} trailing',
        "\ufeff{}",
    ],
    ids=["nested-arrays", "nested-objects", "huge-integer", "trailing-garbage", "bom"],
)
@pytest.mark.parametrize("url", ["/api/v1/auth/code", "/api/v1/auth/token"])
def test_pathological_json_within_the_size_limit_is_400_malformed_json(client, url, body):
    response = client.post(url, data=body.encode(), content_type="application/json")
    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_declared_json_is_415(client, content_type):
    response = client.post("/api/v1/auth/code", data='{"phone": "+79991234567"}', content_type=content_type)
    assert_problem(response, 415, "unsupported_media_type")


def test_json_with_a_charset_is_fine(client):
    response = client.post(
        "/api/v1/auth/code", data='{"phone": "+79991234567"}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 202


def test_a_huge_body_is_413_payload_too_large(client):
    response = client.post("/api/v1/auth/code", json={"phone": "1" * 100_000})
    assert_problem(response, 413, "payload_too_large")
    assert response.json["title"] == "Content Too Large"


def test_validation_problems_carry_errors_by_field(client):
    response = client.post("/api/v1/auth/token", json={"phone": "+79991234567"})
    assert_problem(response, 422, "validation_error")
    assert response.json["title"] == "Unprocessable Content"
    assert response.json["errors"] == {"code": ["Missing data for required field."]}


def test_an_empty_body_where_fields_are_required_is_a_validation_error(client):
    response = client.post("/api/v1/auth/code")
    assert_problem(response, 422, "validation_error")


def test_an_unexpected_error_is_500_internal_error_without_details(client, app, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals: SELECT * FROM users")

    monkeypatch.setattr("referral.domain.codes.issue_code", explode)
    response = client.post("/api/v1/auth/code", json={"phone": "+79991234567"})
    assert_problem(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_database_outage_is_503_service_unavailable(client, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr("referral.domain.codes.issue_code", down)
    response = client.post("/api/v1/auth/code", json={"phone": "+79991234567"})
    assert_problem(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "connection refused" not in response.get_data(as_text=True)


def test_every_401_names_the_bearer_scheme(client):
    assert client.get("/api/v1/profile").headers["WWW-Authenticate"] == "Bearer"

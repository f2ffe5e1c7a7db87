"""Every response carries X-Request-ID; every log line of the request carries the same id."""

import io
import json
import logging

import pytest

from referral.logs import JsonFormatter, RequestIdFilter


def test_every_response_has_a_request_id(client):
    for response in (client.get("/healthz"), client.get("/nowhere"), client.post("/api/v1/auth/code", json={})):
        assert len(response.headers["X-Request-ID"]) == 32


def test_a_sane_incoming_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.42:retry-1"})
    assert response.headers["X-Request-ID"] == "edge-7f3a.42:retry-1"


@pytest.mark.parametrize("incoming", ["has spaces", "x" * 129, 'quote"s', "new\\nline", ""])
def test_an_odd_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] != incoming
    assert len(response.headers["X-Request-ID"]) == 32


def test_each_request_gets_its_own_id(client):
    assert client.get("/healthz").headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]


def test_log_lines_are_json_objects_with_the_request_id(client, api):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        code = api.request_code("+79991234567")
        response = client.post(
            "/api/v1/auth/token", json={"phone": "+79991234567", "code": code}, headers={"X-Request-ID": "abc-123"}
        )
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert response.headers["X-Request-ID"] == "abc-123"
    signed_up = [line for line in lines if "signed up" in line["message"]]
    assert signed_up and signed_up[0]["request_id"] == "abc-123"
    assert {"time", "level", "logger", "request_id", "message"} <= set(signed_up[0])
    security = [line for line in lines if "security" in line]
    assert security and security[0]["security"]["phone"] == "+7999***4567"

"""Every JSON response is written by orjson (``referral.http.json_provider``) and means what Flask's own
provider wrote: the same keys in the same order, the same values, whatever the value; dates and times in ISO
8601, as the contract spells every time."""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider

from referral.http.json_provider import ResponseJSON


@dataclass
class Point:
    x: int
    label: str


VALUES = {
    "ascii": "Anna",
    "cyrillic and emoji": "Анна 🎉",
    "escapes": 'a "quoted" back\\slash\n\ttab \u2028',
    "order": {"z": 1, "a": 2, "m": [3, {"y": None, "b": True}]},
    "numbers": [0, -1, 2**63 - 1, 1.5, 1e16, -0.0],
    "a decimal": Decimal("12.50"),
    "a uuid": UUID("12345678-1234-5678-1234-567812345678"),
    "a dataclass": Point(1, "one"),
    "a tuple": (1, "two"),
}
# Flask's provider writes these as HTTP dates ("Mon, 07 Dec 2026 08:30:05 GMT"); ours as the contract does.
TIMES = {
    "an aware datetime": (datetime(2026, 12, 7, 8, 30, 5, 123456, tzinfo=UTC), "2026-12-07T08:30:05.123456+00:00"),
    "on the second": (datetime(2026, 12, 7, 8, 30, 5, tzinfo=UTC), "2026-12-07T08:30:05+00:00"),
    "another zone": (
        datetime(2026, 12, 7, 11, 30, 5, tzinfo=ZoneInfo("Europe/Moscow")),
        "2026-12-07T11:30:05+03:00",
    ),
    "a date": (date(2026, 12, 7), "2026-12-07"),
}
# What orjson refuses, written by the standard library as Flask's provider writes it.
REFUSED_BY_ORJSON = {
    "an integer past 64 bits": 2**70,
    "a lone surrogate": "\ud800",
    "integer keys": {1: "one", 2: "two"},
}


@pytest.fixture
def plain_and_ours() -> tuple[Flask, Flask]:
    plain, ours = Flask("plain"), Flask("ours")
    plain.json = DefaultJSONProvider(plain)
    plain.json.sort_keys = False  # type: ignore[attr-defined]
    ours.json = ResponseJSON(ours)
    return plain, ours


def body(app: Flask, *args, **kwargs) -> bytes:
    with app.app_context():
        response = jsonify(*args, **kwargs)
        assert response.mimetype == "application/json"
        return response.get_data()


@pytest.mark.parametrize("name", [*VALUES, *REFUSED_BY_ORJSON])
def test_a_value_reads_back_as_flasks_own_provider_wrote_it(plain_and_ours, name):
    value = {**VALUES, **REFUSED_BY_ORJSON}[name]
    plain, ours = plain_and_ours
    written = body(ours, {"value": value})
    assert json.loads(written) == json.loads(body(plain, {"value": value}))
    assert written.endswith(b"}\n")


@pytest.mark.parametrize("name", TIMES)
def test_a_time_is_written_in_iso_8601_as_isoformat_spells_it(plain_and_ours, name):
    value, spelt = TIMES[name]
    _, ours = plain_and_ours
    assert spelt == value.isoformat()
    assert json.loads(body(ours, {"value": value})) == {"value": spelt}
    # the same where the standard library writes the body (a value orjson refuses beside it), and in debug mode
    assert json.loads(body(ours, {"value": value, "big": 2**70})) == {"value": spelt, "big": 2**70}
    ours.debug = True
    assert json.loads(body(ours, {"value": value})) == {"value": spelt}


def test_the_keys_keep_their_order(plain_and_ours):
    _, ours = plain_and_ours
    assert list(json.loads(body(ours, VALUES))) == list(VALUES)
    assert list(json.loads(body(ours, VALUES))["order"]) == ["z", "a", "m"]


def test_text_outside_ascii_is_written_as_utf8(plain_and_ours):
    _, ours = plain_and_ours
    assert body(ours, {"name": "Анна"}) == '{"name":"Анна"}\n'.encode()


def test_jsonify_takes_what_flask_takes(plain_and_ours):
    plain, ours = plain_and_ours
    cases = [((), {}), ((1, 2), {}), ((), {"a": 1, "b": [2]}), (([1, "x"],), {}), (("text",), {})]
    for args, kwargs in cases:
        assert json.loads(body(ours, *args, **kwargs)) == json.loads(body(plain, *args, **kwargs))
    with ours.app_context(), pytest.raises(TypeError):
        jsonify(1, a=2)


def test_what_no_provider_can_write_still_fails_as_it_did(plain_and_ours):
    plain, ours = plain_and_ours
    for app in (plain, ours):
        with app.app_context(), pytest.raises(TypeError):
            jsonify({"value": object()})


def test_in_debug_mode_the_body_is_indented_as_flask_indents_it(plain_and_ours):
    plain, ours = plain_and_ours
    plain.debug = ours.debug = True
    assert body(ours, {"a": [1]}) == body(plain, {"a": [1]}) == b'{\n  "a": [\n    1\n  ]\n}\n'


def test_the_api_answers_with_it(client, api):
    headers = api.sign_in("+79990001122")["headers"]
    client.patch("/api/v1/profile", json={"first_name": "Анна"}, headers=headers)
    response = client.get("/api/v1/profile", headers=headers)
    assert response.status_code == 200
    assert '"first_name":"Анна"'.encode() in response.get_data()
    assert response.json["first_name"] == "Анна"

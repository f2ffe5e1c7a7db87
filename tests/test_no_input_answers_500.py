"""Whatever comes in, no answer is a 500 and no refusal changes data.

Hypothesis generates bodies (JSON of any shape, with text holding lone surrogates, NUL and other control
characters; and arbitrary bytes), query strings, path segments and headers, and sends them to every API
endpoint and every form of the pages, signed in where the endpoint needs it. Each answer must be below 500,
a problem body from the API or an HTML page from the pages, and every answer of 400 or more must leave the
database as it was (a wrong code's try, which is counted on purpose, is left out of the comparison).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from referral.extensions import db
from tests.web.test_pages import Browser

# Every code point, with those that break things drawn far more often than chance would: lone surrogates, NUL
# and other controls, the last code point, non-characters, quotes and escapes.
NASTY = st.sampled_from(
    [
        "\x00",
        "\ud800",
        "\udbff",
        "\udc00",
        "\udfff",
        "\x1f",
        "\x7f",
        "\u0085",
        "\u2028",
        "\ufeff",
        "\ufffe",
        "\U0010ffff",
        "'",
        '"',
        "\\",
        "%",
        "|",
        "\u0665",
    ]
)
# (``st.text`` leaves surrogates out even of an alphabet given to it: the strings are joined from characters.)
ANY_TEXT = st.lists(NASTY | st.characters(codec=None) | st.characters(codec="ascii"), max_size=40).map("".join)
# What a header can carry through WSGI (latin-1, no line breaks).
HEADER_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"), max_size=60)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)

API_BODIES = {
    ("POST", "/api/v1/auth/code"): ["phone"],
    ("POST", "/api/v1/auth/token"): ["phone", "code", "invite_code"],
    ("POST", "/api/v1/auth/refresh"): [],
    ("PATCH", "/api/v1/profile"): ["first_name", "last_name"],
    ("POST", "/api/v1/profile/invite"): ["invite_code"],
    ("POST", "/api/v1/profile/phone"): ["phone"],
    ("POST", "/api/v1/profile/phone/confirm"): ["phone", "code"],
}
API_READS = ["/api/v1/profile", "/api/v1/profile/referrals", "/healthz", "/readyz"]
PAGE_FORMS = {
    "/": ["phone"],
    "/login/code": ["code"],
    "/login/resend": [],
    "/profile/names": ["first_name", "last_name"],
    "/profile/invite": ["invite_code"],
    "/profile/phone": ["phone"],
    "/profile/phone/confirm": ["code"],
}
PAGE_READS = ["/", "/login/code", "/profile", "/profile/phone/confirm", "/i/{}", "/lang/{}"]

# Written by a refusal on purpose: a wrong code counts against the code and the phone.
COUNTED_ON_PURPOSE = {"login_codes": "attempts", "phone_lockouts": "failures"}
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


def snapshot() -> dict[str, Any]:
    """Every row of every table, as text, less the columns written on purpose by a refusal."""
    db.session.rollback()  # see what is committed, as the next request will
    tables = {}
    for table in db.metadata.sorted_tables:
        columns = [column.name for column in table.columns if COUNTED_ON_PURPOSE.get(table.name) != column.name]
        rows = db.session.execute(text(f"SELECT {', '.join(columns)} FROM {table.name}")).all()
        tables[table.name] = sorted(repr(tuple(row)) for row in rows)
    return tables


def field_bodies(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the endpoint's own fields (and a stray one now and then), any values."""
    keys = st.sampled_from(fields) | ANY_TEXT if fields else ANY_TEXT
    return st.dictionaries(keys, ANY_TEXT | JSON_VALUES, max_size=4)


def raw(value: str) -> str:
    """``value`` percent-encoded as UTF-8, lone surrogates included (as bytes no valid UTF-8 has)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def assert_api_answer(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        body = response.json
        assert re.fullmatch(r"[a-z_]+", body["code"]) and body["status"] == response.status_code


def assert_page_answer(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "text/html"


@pytest.fixture
def signed_in(api) -> dict[str, str]:
    return api.sign_in("+79990000000")["headers"]


@pytest.fixture
def browser(client) -> Browser:
    person = Browser(client, "+79990000001")
    person.sign_in()
    return person


@pytest.mark.committing
@settings(FUZZ, max_examples=200)  # the widest space: every endpoint's fields, any values
@given(data=st.data())
def test_no_json_body_answers_500_or_changes_data_when_refused(client, signed_in, data):
    method, path = data.draw(st.sampled_from(sorted(API_BODIES)))
    body = data.draw(field_bodies(API_BODIES[method, path]) | JSON_VALUES)
    before = snapshot()
    response = client.open(
        path,
        method=method,
        data=json.dumps(body),
        content_type="application/json",
        headers=signed_in,
        environ_base={"REMOTE_ADDR": data.draw(st.ip_addresses(v=4)).exploded},
    )
    assert_api_answer(response)
    if response.status_code >= 400:
        assert snapshot() == before


@pytest.mark.committing
@FUZZ
@given(data=st.data())
def test_no_body_of_arbitrary_bytes_answers_500_or_changes_data(client, signed_in, data):
    method, path = data.draw(st.sampled_from(sorted(API_BODIES)))
    content_type = data.draw(st.sampled_from(["application/json", "application/json; charset=latin-1", "text/plain"]))
    before = snapshot()
    response = client.open(
        path, method=method, data=data.draw(st.binary(max_size=200)), content_type=content_type, headers=signed_in
    )
    assert_api_answer(response)
    assert response.status_code >= 400 or response.status_code == 202  # bytes seldom spell a valid request
    if response.status_code >= 400:
        assert snapshot() == before


@pytest.mark.committing
@FUZZ
@given(data=st.data())
def test_no_query_string_or_header_answers_500(client, signed_in, data):
    path = data.draw(st.sampled_from(API_READS))
    query = "&".join(
        f"{raw(key)}={raw(value)}"
        for key, value in data.draw(
            st.lists(st.tuples(st.sampled_from(["limit", "cursor"]) | ANY_TEXT, ANY_TEXT), max_size=3)
        )
    )
    headers = {
        **signed_in,
        "X-Request-ID": data.draw(HEADER_TEXT),
        "User-Agent": data.draw(HEADER_TEXT),
        "Accept-Language": data.draw(HEADER_TEXT),
    }
    response = client.get(f"{path}?{query}", headers=headers)
    assert_api_answer(response)


@pytest.mark.committing
@FUZZ
@given(data=st.data())
def test_no_form_of_the_pages_answers_500_or_changes_data_when_refused(browser, data):
    path = data.draw(st.sampled_from(sorted(PAGE_FORMS)))
    fields = data.draw(
        st.dictionaries(st.sampled_from(PAGE_FORMS[path]) | ANY_TEXT, ANY_TEXT, max_size=3)
        if PAGE_FORMS[path]
        else st.just({})
    )
    form = "&".join(f"{raw(key)}={raw(value)}" for key, value in {"csrf_token": browser.csrf(), **fields}.items())
    before = snapshot()
    response = browser.client.post(
        path,
        data=form,
        content_type="application/x-www-form-urlencoded",
        environ_base=browser.environ,
        headers={"Accept-Language": data.draw(HEADER_TEXT)},
    )
    assert_page_answer(response)
    if response.status_code >= 400:
        assert snapshot() == before


@pytest.mark.committing
@FUZZ
@given(data=st.data())
def test_no_address_of_the_pages_answers_500(browser, data):
    template = data.draw(st.sampled_from(PAGE_READS))
    segment = raw(data.draw(ANY_TEXT.filter(bool)))
    query = f"next={raw(data.draw(ANY_TEXT))}&after={raw(data.draw(ANY_TEXT))}"
    response = browser.client.get(
        f"{template.format(segment)}?{query}",
        environ_base=browser.environ,
        headers={"User-Agent": data.draw(HEADER_TEXT)},
    )
    assert_page_answer(response)

"""What every authenticated request runs (``http/bearer.py``): verified access tokens are kept per process
(``infra/tokens.py``) without weakening any token check, and the session is checked live every time."""

import time
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import update

from referral.extensions import VERIFIED_TOKENS, db
from referral.infra.models import AuthSession
from referral.infra.tokens import VerifiedTokens
from tests.conftest import bearer

PROFILE = "/api/v1/profile"
LOGOUT = "/api/v1/auth/logout"


@pytest.fixture
def verified(app) -> VerifiedTokens:
    return app.extensions[VERIFIED_TOKENS]


@pytest.fixture
def pyjwt_decodes(monkeypatch) -> list[str]:
    """Every verified decode PyJWT makes (flask-jwt-extended's own decode goes through ``jwt.decode``)."""
    calls: list[str] = []
    real = pyjwt.decode

    def counting(token, *args, **kwargs):
        if kwargs.get("options", {}).get("verify_signature", True):
            calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(pyjwt, "decode", counting)
    return calls


def test_an_access_token_is_verified_once_then_served_from_the_cache(client, api, verified, pyjwt_decodes):
    token = api.sign_in("+79991234567")["access_token"]
    for _ in range(3):
        assert client.get(PROFILE, headers=bearer(token)).status_code == 200
    assert pyjwt_decodes == [token]
    assert verified.get(token) is not None


def test_a_cached_token_is_not_parsed_again_at_all(client, api, monkeypatch):
    token = api.sign_in("+79991234567")["access_token"]
    assert client.get(PROFILE, headers=bearer(token)).status_code == 200
    parsed: list[str] = []
    for name in ("decode", "get_unverified_header"):  # flask-jwt-extended reaches PyJWT through these two
        real = getattr(pyjwt, name)
        monkeypatch.setattr(
            pyjwt, name, lambda token, *a, _real=real, **k: parsed.append(token) or _real(token, *a, **k)
        )
    for _ in range(3):
        assert client.get(PROFILE, headers=bearer(token)).status_code == 200
    assert parsed == []
    other = api.sign_in("+79991234568")["access_token"]
    parsed.clear()
    assert client.get(PROFILE, headers=bearer(other)).status_code == 200
    assert other in parsed  # a token not kept yet is checked in full


def test_a_cached_token_still_dies_with_its_session(client, api, verified):
    token = api.sign_in("+79991234567")["access_token"]
    assert client.get(PROFILE, headers=bearer(token)).status_code == 200
    assert client.post(LOGOUT, headers=bearer(token)).status_code == 204
    response = client.get(PROFILE, headers=bearer(token))
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"


def test_a_cached_token_past_its_exp_is_token_expired(client, app, api, verified):
    app.config["ACCESS_TOKEN_TTL_SECONDS"] = 1
    token = api.sign_in("+79991234567")["access_token"]
    assert client.get(PROFILE, headers=bearer(token)).status_code == 200
    exp = verified.get(token)["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    response = client.get(PROFILE, headers=bearer(token))
    assert response.status_code == 401
    assert response.json["code"] == "token_expired"
    assert token not in verified


def test_a_token_differing_from_a_cached_one_by_its_signature_is_refused(client, api):
    token = api.sign_in("+79991234567")["access_token"]
    assert client.get(PROFILE, headers=bearer(token)).status_code == 200
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    response = client.get(PROFILE, headers=bearer(forged))
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


def test_expired_and_refresh_tokens_are_never_kept(client, app, api, verified):
    tokens = api.sign_in("+79991234567")
    sid = pyjwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
    with app.app_context():
        expired = create_access_token(
            str(tokens["user"]["id"]), additional_claims={"sid": sid}, expires_delta=timedelta(seconds=-1)
        )
    assert client.get(PROFILE, headers=bearer(expired)).json["code"] == "token_expired"
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200
    assert verified.get(expired) is None
    assert verified.get(tokens["refresh_token"]) is None


def test_the_cache_holds_at_most_its_size_and_drops_the_oldest_first():
    cache = VerifiedTokens(size=2)
    far = 4_000_000_000
    for token in ("a", "b", "c"):
        cache.put(token, {"type": "access", "exp": far})
    assert len(cache) == 2
    assert cache.get("a") is None
    assert cache.get("b") == cache.get("c") == {"type": "access", "exp": far}


def test_a_size_of_zero_keeps_nothing(client, api, app, verified, monkeypatch, pyjwt_decodes):
    monkeypatch.setattr(verified, "size", 0)
    token = api.sign_in("+79991234567")["access_token"]
    for _ in range(2):
        assert client.get(PROFILE, headers=bearer(token)).status_code == 200
    assert pyjwt_decodes == [token, token]
    assert verified.get(token) is None


def test_a_token_whose_session_was_revoked_elsewhere_stops_at_once(client, api, app):
    tokens = api.sign_in("+79991234567")
    assert client.get(PROFILE, headers=tokens["headers"]).status_code == 200
    db.session.execute(update(AuthSession).values(revoked_at=datetime.now(UTC)))  # another process's logout
    response = client.get(PROFILE, headers=tokens["headers"])
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.token", "bearer {token}", "Bearer {token} extra"],
)
def test_anything_but_a_plain_bearer_token_gets_the_full_check(client, api, header):
    token = api.sign_in("+79991234567")["access_token"]
    assert client.get(PROFILE, headers=bearer(token)).status_code == 200  # kept from here on
    response = client.get(PROFILE, headers={"Authorization": header.format(token=token)})
    assert response.status_code == 401
    assert response.json["code"] in {"token_missing", "token_invalid"}

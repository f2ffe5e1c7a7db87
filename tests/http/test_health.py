"""/healthz, /readyz, /openapi.json and /docs."""

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from sqlalchemy.exc import OperationalError

from referral.extensions import db

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "API.md"


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_answers_ok_when_the_database_does(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_readyz_is_503_when_the_database_does_not_answer(client, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(db.session, "execute", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
    assert response.content_type == "application/problem+json"


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json


def test_the_openapi_document_is_valid(spec):
    validate(spec)


def test_the_openapi_document_has_every_endpoint_of_the_contract(spec):
    operations = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    documented = (
        set(re.findall(r"^### `(GET|POST|PATCH) (/api/v1/[a-z/]+)", CONTRACT.read_text(), re.M))
        if CONTRACT.exists()
        else set()
    )
    expected = {
        ("/api/v1/auth/code", "POST"),
        ("/api/v1/auth/token", "POST"),
        ("/api/v1/auth/refresh", "POST"),
        ("/api/v1/auth/logout", "POST"),
        ("/api/v1/profile", "GET"),
        ("/api/v1/profile", "PATCH"),
        ("/api/v1/profile/invite", "POST"),
        ("/api/v1/profile/referrals", "GET"),
        ("/api/v1/profile/phone", "POST"),
        ("/api/v1/profile/phone/confirm", "POST"),
    }
    assert expected <= operations
    assert {(path, method) for method, path in documented} <= operations


def test_errors_are_documented_as_problems(spec):
    code = spec["paths"]["/api/v1/auth/code"]["post"]["responses"]
    assert "application/problem+json" in code["422"]["content"]
    assert "invalid_phone" in code["422"]["description"]
    assert "Retry-After" in code["429"]["headers"]


def test_authenticated_endpoints_name_the_bearer_scheme(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/profile"]["get"]["security"] == [{"bearerAuth": []}]


def test_every_operation_has_a_summary(spec):
    methods = {"get", "put", "post", "delete", "patch"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in methods:  # a path's own "parameters" (its {session_id}) is not an operation
                assert operation.get("summary"), f"{method} {path}"


def test_swagger_ui_is_served_without_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html
    assert "//cdn" not in html and "unpkg" not in html
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.data) > 100_000

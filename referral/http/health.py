"""Endpoints for operators and load balancers: liveness, readiness, and the Swagger UI's own files."""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Response, send_from_directory

from referral.http.problems import problem
from referral.infra.database import database_answers

bp = Blueprint("service", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Response | dict[str, Any]:
    """The process can serve: the database answers."""
    if not database_answers():
        return problem(503, "service_unavailable", "The database does not answer.", headers={"Retry-After": "5"})
    return {"status": "ok", "database": "ok"}


@bp.get("/docs/assets/<path:filename>")
def swagger_ui_assets(filename: str) -> Response:
    """Swagger UI's scripts and styles from the swagger-ui-bundle package: the machines have no CDN."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)

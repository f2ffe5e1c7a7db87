"""flask-smorest, set up for problem details: the Api object's class and the decorator that documents errors."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from flask_smorest import Api, Blueprint

from referral.schemas import ProblemSchema

F = TypeVar("F", bound=Callable[..., Any])

BEARER_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class ProblemApi(Api):
    """Errors are documented per endpoint as ``application/problem+json``, not with flask-smorest's default."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


def problems(blp: Blueprint, errors: dict[int, str]) -> Callable[[F], F]:
    """Document each status with the ``code`` values it can carry, e.g. ``{422: "invalid_phone, validation_error"}``."""

    def decorate(view: F) -> F:
        for status, codes in sorted(errors.items(), reverse=True):
            headers = {"Retry-After": {"schema": {"type": "integer"}}} if status in (429, 503) else None
            view = blp.alt_response(
                status,
                schema=ProblemSchema,
                content_type="application/problem+json",
                description=f"{HTTPStatus(status).phrase}. code: {codes}",
                headers=headers,
            )(view)
        return view

    return decorate

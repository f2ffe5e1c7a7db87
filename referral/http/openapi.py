"""The OpenAPI set-up: flask-smorest's ``Api``, documenting errors as problem details, and the decorator that
lists each endpoint's error codes."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from flask import Request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, ValidationError
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest

from referral.domain.text import INVALID_TEXT_MESSAGE, fields_with_unstorable_text
from referral.http.schemas import ProblemSchema

F = TypeVar("F", bound=Callable[..., Any])

BEARER_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class ProblemApi(Api):
    """Errors are documented per endpoint as ``application/problem+json``, not with flask-smorest's default."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


api = ProblemApi()


class JsonBodyParser(FlaskParser):
    """webargs' parser, for which every body ``json.loads`` cannot read is a 400 ``malformed_json``, and every
    field holding text that cannot be stored (``domain/text.py``) a 422 ``validation_error`` naming it.

    webargs turns a ``JSONDecodeError`` into a 400 itself; ``json.loads`` also raises ``RecursionError`` for
    nesting deeper than Python's recursion limit (a 10 KB body of ``[[[[...``) and a plain ``ValueError`` for an
    integer of more than 4,300 digits, which would otherwise end as a 500.
    """

    def load_json(self, req: Request, schema: Schema) -> Any:
        try:
            data = super().load_json(req, schema)
        except (RecursionError, ValueError):
            raise BadRequest() from None
        return _refuse_unstorable_text(data)

    def load_querystring(self, req: Request, schema: Schema) -> Any:
        _refuse_unstorable_text({key: value for key, value in req.args.items(multi=True)})
        return super().load_querystring(req, schema)


def _refuse_unstorable_text(data: Any) -> Any:
    bad = fields_with_unstorable_text(data)
    if bad:
        raise ValidationError({field: [INVALID_TEXT_MESSAGE] for field in bad})
    return data


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint that reads bodies with ``JsonBodyParser`` (its documented extension point)."""

    ARGUMENTS_PARSER = JsonBodyParser()


# What an endpoint behind a bearer token can answer when the token is refused.
TOKEN_REFUSALS = {401: "token_missing, token_invalid, token_expired, token_revoked"}
# What any endpoint can answer, and what any endpoint that takes a body can answer.
EVERY_ENDPOINT = {503: "service_unavailable (the database or the SMS queue cannot take the request)"}
BODY_ERRORS = {
    400: "malformed_json",
    413: "payload_too_large (bodies over 16 KiB, announced by Content-Length or sent chunked)",
    415: "unsupported_media_type (a body that is not application/json)",
}


# A 422 validation_error can also name any field holding text that is not valid Unicode or holds a NUL.


def problems(blp: Blueprint, errors: dict[int, str], *, takes_body: bool = True) -> Callable[[F], F]:
    """Document each status with the ``code`` values it can carry, e.g. ``{422: "invalid_phone, validation_error"}``.

    The errors every endpoint shares (and those of every endpoint that takes a body) are added here.
    """
    errors = {**EVERY_ENDPOINT, **(BODY_ERRORS if takes_body else {}), **errors}

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

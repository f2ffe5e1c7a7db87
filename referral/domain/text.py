"""The text the service takes in: valid Unicode with no NUL. A JSON ``\\ud800`` escape decodes to a lone
surrogate that neither PostgreSQL nor SQLite can store, and PostgreSQL stores no NUL; both are refused where
text comes in (bodies, query strings, forms, path segments), never met by the database."""

from __future__ import annotations

import re
from typing import Any

INVALID_TEXT_MESSAGE = "Text must be valid Unicode, without NUL characters."

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_storable(text: str) -> bool:
    """Whether ``text`` is valid Unicode without NUL."""
    return _UNSTORABLE.search(text) is None


def printable_name(text: str) -> str:
    """``text`` with what cannot be stored written as escapes, for naming a field in an error."""
    return _UNSTORABLE.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


def fields_with_unstorable_text(data: Any) -> list[str]:
    """The top-level fields of a decoded JSON body or query (``data``) whose key or value holds text that
    cannot be stored, at any depth; ``"body"`` when ``data`` itself is such a string."""
    if isinstance(data, dict):
        return [
            printable_name(str(key))
            for key, value in data.items()
            if _holds_unstorable(key) or _holds_unstorable(value)
        ]
    return ["body"] if _holds_unstorable(data) else []


def _holds_unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return not is_storable(value)
    if isinstance(value, dict):
        return any(_holds_unstorable(key) or _holds_unstorable(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_unstorable(item) for item in value)
    return False

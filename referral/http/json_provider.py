"""The JSON of every API response, written by orjson.

Flask's own provider writes a response with the standard library's ``json.dumps``: for a referral page of 50
items that was 60-140 µs of a worker's CPU (the more non-ASCII names, the more), where orjson takes 4-20 µs
(bench/RESULTS.md, twenty-third round). Only the writing of responses changes: ``dumps`` and ``loads`` (request
bodies, the pages' ``tojson``) stay the standard library's, so what a request may send reads as before.

The body means what it meant: the same keys in the same order, the same values. Dates and times are written
in ISO 8601 (RFC 3339: ``2026-12-07T08:30:05.123456+00:00``, ``2026-12-07``), the spelling the contract gives
every time, by orjson itself: a serializer hands its ``datetime`` over as it is (a referral page's 50 are about
40 µs of ``isoformat`` calls less, bench/RESULTS.md, twenty-fourth round). Flask's own ``default`` would have
written a bare one as an HTTP date; no response handed one over when this took its place (the suite was run
with a probe). Dataclasses still go through Flask's ``default``; a value orjson refuses (an integer past 64
bits, a string with a lone surrogate, a key that is not a string) is written by the standard library instead,
as Flask would have, with times spelt as orjson spells them. (orjson drops the seconds of an offset, which
only local mean times before 1900 have; the app's times are UTC.) Two spellings differ, both the same JSON to any
reader: text outside ASCII is written as UTF-8 rather than as ``\\u`` escapes, and the body is compact unless
the app runs in debug mode (then it is indented, by Flask's provider, as before).

Why not pallets-eco's flask-orjson: its provider reads request bodies with orjson too (which refuses what
``JsonBodyParser`` answers today, and differently), and has no way back for a value orjson refuses (a 500 where
Flask wrote the body). Forty lines here keep every meaning and take the speed.
"""

from __future__ import annotations

import json
from datetime import date, time
from typing import Any

import orjson
from flask import current_app
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response  # what Flask's providers are typed to return

OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATACLASS


def written(body: Any) -> bytes:
    """``body`` as a response's JSON: by orjson, or by the standard library where orjson refuses a value."""
    try:
        return orjson.dumps(body, default=time_or_flask_default, option=OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a value only the standard library writes
        text = json.dumps(body, default=time_or_flask_default, ensure_ascii=True, separators=(",", ":"))
        return f"{text}\n".encode()


def time_or_flask_default(value: Any) -> Any:
    """Flask's ``default``, but a date or time in orjson's spelling (where the standard library writes one)."""
    if isinstance(value, date | time):  # a datetime is a date
        return orjson.loads(orjson.dumps(value))  # the spelling orjson gives it in the body beside
    return DefaultJSONProvider.default(value)


class ResponseJSON(DefaultJSONProvider):
    """Flask's provider, with the response written by orjson."""

    sort_keys = False  # bodies read in the order the contract shows
    default = staticmethod(time_or_flask_default)  # the debug mode's bodies and the pages' tojson spell times alike

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """What ``jsonify`` returns: ``args`` or ``kwargs`` (not both) as the JSON body, as Flask reads them."""
        if args and kwargs:
            raise TypeError("app.json.response() takes either args or kwargs, not both")
        app = current_app
        if self.compact is False or (self.compact is None and app.debug):
            return super().response(*args, **kwargs)  # indented, for a developer's eyes
        body = (args[0] if len(args) == 1 else list(args)) if args else (kwargs or None)
        return app.response_class(written(body), mimetype=self.mimetype)

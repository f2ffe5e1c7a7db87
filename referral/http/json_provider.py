"""The JSON of every API response, written by orjson.

Flask's own provider writes a response with the standard library's ``json.dumps``: for a referral page of 50
items that was 60-140 µs of a worker's CPU (the more non-ASCII names, the more), where orjson takes 4-20 µs
(bench/RESULTS.md, twenty-third round). Only the writing of responses changes: ``dumps`` and ``loads`` (request
bodies, the pages' ``tojson``) stay the standard library's, so what a request may send reads as before.

The body means what it meant: the same keys in the same order, the same values. Dates and dataclasses go
through Flask's ``default`` as before (orjson would write ``date`` and ``datetime`` its own way); a value orjson
refuses (an integer past 64 bits, a string with a lone surrogate, a key that is not a string) is written by the
standard library instead, as Flask would have. Two spellings differ, both the same JSON to any reader: text
outside ASCII is written as UTF-8 rather than as ``\\u`` escapes, and the body is compact unless the app runs
in debug mode (then it is indented, by Flask's provider, as before).

Why not pallets-eco's flask-orjson: its provider reads request bodies with orjson too (which refuses what
``JsonBodyParser`` answers today, and differently), writes dates as RFC 3339 where Flask wrote HTTP dates, and
has no way back for a value orjson refuses (a 500 where Flask wrote the body). Thirty lines here keep every
meaning and take the speed.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import current_app
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response  # what Flask's providers are typed to return

OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class ResponseJSON(DefaultJSONProvider):
    """Flask's provider, with the response written by orjson."""

    sort_keys = False  # bodies read in the order the contract shows

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """What ``jsonify`` returns: ``args`` or ``kwargs`` (not both) as the JSON body, as Flask reads them."""
        if args and kwargs:
            raise TypeError("app.json.response() takes either args or kwargs, not both")
        app = current_app
        if self.compact is False or (self.compact is None and app.debug):
            return super().response(*args, **kwargs)  # indented, for a developer's eyes
        body = (args[0] if len(args) == 1 else list(args)) if args else (kwargs or None)
        try:
            written = orjson.dumps(body, default=self.default, option=OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: a value only the standard library writes
            written = f"{self.dumps(body, separators=(',', ':'))}\n".encode()
        return app.response_class(written, mimetype=self.mimetype)

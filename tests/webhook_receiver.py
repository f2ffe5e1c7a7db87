"""A webhook receiver served over real HTTP on loopback, verifying what it gets like any Standard Webhooks user."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug.serving import make_server

TEST_SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


@dataclass
class Receiver:
    """``mode``: ``ok`` (204), ``crash`` (500), ``slow`` (answers after 2 s), ``gone`` (410), ``redirect`` (302)."""

    secret: str
    mode: str = "ok"
    verified: list[dict[str, Any]] = field(default_factory=list)  # the payloads whose signature checked out
    refused: int = 0  # requests whose signature did not
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def app(self) -> Flask:
        app = Flask("webhook-receiver")

        @app.post("/hook")
        def hook() -> Any:
            self.headers.append(dict(request.headers))
            if self.mode == "slow":
                time.sleep(2)
            try:
                payload = Webhook(self.secret).verify(request.get_data(), dict(request.headers))
            except WebhookVerificationError:
                self.refused += 1
                return "bad signature", 400
            if self.mode == "crash":
                return "receiver exploded", 500
            if self.mode == "gone":
                return "", 410
            if self.mode == "redirect":
                return "", 302, {"Location": "http://127.0.0.1:9/elsewhere"}
            self.verified.append(payload)
            return "", 204

        return app


def serve_receiver(secret: str) -> tuple[Receiver, Any]:
    receiver = Receiver(secret)
    server = make_server("127.0.0.1", 0, receiver.app(), threaded=True)
    receiver.url = f"http://127.0.0.1:{server.server_port}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server

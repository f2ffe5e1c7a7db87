"""A fake SMS gateway served over real HTTP on loopback: Twilio's, SMS.ru's and Exolve's endpoints, with switchable
faults."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import make_server


@dataclass
class FakeGateway:
    """``mode``: ``ok``, ``refuse`` (a 4xx or an error status), ``crash`` (500), ``slow`` (answers after 2 s)."""

    mode: str = "ok"
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def app(self) -> Flask:
        app = Flask("fake-gateway")

        @app.post("/2010-04-01/Accounts/<sid>/Messages.json")
        def twilio(sid: str) -> Any:
            self._record("twilio", sid=sid, auth=request.authorization and request.authorization.username)
            if self.mode == "refuse":
                return jsonify(code=21211, message="The 'To' number is not a valid phone number."), 400
            return jsonify(sid="SM123", status="queued"), 201

        @app.post("/sms/send")
        def smsru() -> Any:
            self._record("smsru")
            if self.mode == "refuse":
                return jsonify(
                    status="OK",
                    sms={request.form["to"]: {"status": "ERROR", "status_code": 207, "status_text": "no route"}},
                )
            return jsonify(status="OK", sms={request.form["to"]: {"status": "OK", "status_code": 100}})

        @app.post("/messaging/v1/SendSMS")
        def exolve() -> Any:
            self.received.append(
                {"gateway": "exolve", "json": request.get_json(), "auth": request.headers.get("Authorization")}
            )
            if self.mode == "refuse":
                return jsonify(error={"code": 400, "message": "destination is not a valid number"}), 400
            return jsonify(message_id="539143131"), 200

        @app.before_request
        def faults() -> Any:
            if self.mode == "crash":
                return "upstream exploded", 500
            if self.mode == "slow":
                time.sleep(2)
            return None

        return app

    def _record(self, gateway: str, **extra: Any) -> None:
        self.received.append({"gateway": gateway, "form": request.form.to_dict(), **extra})


def serve_fake_gateway() -> tuple[FakeGateway, Any]:
    gateway = FakeGateway()
    server = make_server("127.0.0.1", 0, gateway.app(), threaded=True)
    gateway.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return gateway, server

"""The senders. Each delivers one message or raises; none of them queues or retries."""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Protocol

import requests

from referral.logs import mask_phone

log = logging.getLogger(__name__)


class SmsGatewayError(Exception):
    """The gateway did not take the message. ``retryable``: worth trying again later (5xx, timeouts)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SmsSender(Protocol):
    name: str  # SMS_BACKEND's word for it, the metrics' backend label

    def send(self, phone: str, text: str) -> None:
        """Deliver ``text`` to ``phone`` (E.164) or raise ``SmsGatewayError``."""


class ConsoleSender:
    """Development: waits like a real gateway (``SMS_DELAY_SECONDS``), then logs the message."""

    name = "console"

    def __init__(self, min_delay: float, max_delay: float) -> None:
        self.min_delay = min_delay
        self.max_delay = max_delay

    def send(self, phone: str, text: str) -> None:
        time.sleep(random.uniform(self.min_delay, self.max_delay))
        # Development only (production refuses this sender): the code is in the text so you can sign in.
        log.info("sms delivered to %s: %s", mask_phone(phone), text)


class MemorySender:
    """Tests: keeps every message in order."""

    name = "memory"

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> None:
        with self._lock:
            self.messages.append((phone, text))


class HttpSender:
    """What the HTTPS gateways share: one pooled session, a timeout on every call, errors sorted by kind."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def post(self, path: str, **kwargs: object) -> requests.Response:
        try:
            response = self.session.post(f"{self.base_url}{path}", timeout=self.timeout, **kwargs)  # type: ignore[arg-type]
        except requests.Timeout:
            raise SmsGatewayError(f"gateway timed out after {self.timeout} s", retryable=True) from None
        except requests.RequestException as error:
            raise SmsGatewayError(f"gateway unreachable: {type(error).__name__}", retryable=True) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise SmsGatewayError(f"gateway answered {response.status_code}", retryable=True)
        return response


class TwilioSender(HttpSender):
    """Twilio's Messages API: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth."""

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, sender: str, base_url: str, timeout: float) -> None:
        super().__init__(base_url, timeout)
        self.account_sid = account_sid
        self.session.auth = (account_sid, auth_token)
        # A Messaging Service SID (MG...) or a phone number to send from.
        self.sender_field = ("MessagingServiceSid", sender) if sender.startswith("MG") else ("From", sender)

    def send(self, phone: str, text: str) -> None:
        form = {"To": phone, "Body": text, self.sender_field[0]: self.sender_field[1]}
        response = self.post(f"/2010-04-01/Accounts/{self.account_sid}/Messages.json", data=form)
        if response.status_code != 201:
            raise SmsGatewayError(f"twilio refused the message: {_twilio_error(response)}", retryable=False)


class SmsRuSender(HttpSender):
    """SMS.ru: ``POST /sms/send`` with ``api_id``, answering JSON with a status per number."""

    name = "smsru"

    def __init__(self, api_id: str, sender: str | None, base_url: str, timeout: float) -> None:
        super().__init__(base_url, timeout)
        self.api_id = api_id
        self.sender = sender

    def send(self, phone: str, text: str) -> None:
        form = {"api_id": self.api_id, "to": phone.lstrip("+"), "msg": text, "json": "1"}
        if self.sender:
            form["from"] = self.sender
        response = self.post("/sms/send", data=form)
        try:
            body = response.json()
            result = next(iter(body.get("sms", {}).values()), {}) if body.get("status") == "OK" else body
        except (ValueError, AttributeError):
            raise SmsGatewayError(f"sms.ru answered {response.status_code} without JSON", retryable=True) from None
        if result.get("status") != "OK":
            code, reason = result.get("status_code"), result.get("status_text", "no reason given")
            raise SmsGatewayError(f"sms.ru refused the message ({code}): {reason}", retryable=False)


class ExolveSender(HttpSender):
    """MTS Exolve: ``POST /messaging/v1/SendSMS`` with the application's API key as a bearer token and JSON
    ``{"number": sender, "destination": phone, "text": text}``; it answers ``{"message_id": ...}``."""

    name = "exolve"

    def __init__(self, api_key: str, sender: str, base_url: str, timeout: float) -> None:
        super().__init__(base_url, timeout)
        self.sender = sender.lstrip("+")
        self.session.headers["Authorization"] = f"Bearer {api_key}"

    def send(self, phone: str, text: str) -> None:
        body = {"number": self.sender, "destination": phone.lstrip("+"), "text": text}
        response = self.post("/messaging/v1/SendSMS", json=body)
        if response.status_code != 200:
            raise SmsGatewayError(f"exolve refused the message: {_exolve_error(response)}", retryable=False)
        try:
            response.json()["message_id"]
        except (ValueError, KeyError, TypeError):
            raise SmsGatewayError("exolve answered 200 without a message_id", retryable=True) from None


def _exolve_error(response: requests.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{response.status_code} {error.get('code', '')}: {error.get('message', '') or error}".strip()
    except (ValueError, AttributeError):
        return str(response.status_code)


def _twilio_error(response: requests.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('code')}: {body.get('message')}"
    except ValueError:
        return str(response.status_code)

"""The kinds of value the settings take (``config.py``), as marshmallow fields from which environs builds its
parsers: ``env.whole("OTP_LENGTH", 4)``, ``env.flag("OTP_DEBUG", False)``, ..."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from environs import Env
from marshmallow import ValidationError, fields, missing

WEBHOOK_EVENT_TYPES = (
    "user.created",
    "referral.activated",
    "user.phone_changed",
    "user.deleted",
    "referral.revoked",
    "referral.qualified",
    "referral.held",
    "referral.voided",
    "reward.earned",
    "reward.cancelled",
    "reward.fulfilled",
)
TEST_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}:[0-9]{4,8}$")


class Text(fields.String):
    """Text with surrounding white space removed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class Word(Text):
    """A lower-case word (a backend's name, a log format)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).lower()


class Whole(fields.Integer):
    """A whole number; an empty value is the default."""

    def deserialize(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        return super().deserialize(missing if value == "" else value, *args, **kwargs)


class Flag(fields.Boolean):
    """true/false, yes/no, on/off, 1/0 in any case; an empty value is false."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(truthy={"1", "true", "yes", "on"}, falsy={"0", "false", "no", "off", ""}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        return super()._deserialize(value.strip().lower() if isinstance(value, str) else value, attr, data, **kwargs)


class Threshold(Whole):
    """A whole number, or ``off`` for none."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:  # type: ignore[override]
        if isinstance(value, str) and value.strip().lower() in {"off", "none", "never"}:
            return None
        return super()._deserialize(value, attr, data, **kwargs)


class Delay(fields.Field):
    """Seconds, written ``1.5`` or as a range ``1-2``: a (low, high) pair."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[float, float]:
        low, _, high = str(value).partition("-")
        try:
            bounds = (float(low), float(high or low))
        except ValueError:
            raise ValidationError(f"seconds like 1.5 or a range like 1-2, not {value!r}") from None
        if bounds[0] < 0 or bounds[1] < bounds[0]:
            raise ValidationError(f"a non-negative range low-high, not {value!r}")
        return bounds


class Regions(fields.Field):
    """Comma-separated region codes, upper-cased."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        return [word.strip().upper() for word in str(value).split(",") if word.strip()]


class TestNumbers(fields.Field):
    """``+79990000001:1234,+79990000002:5678`` as ``{phone: code}``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, str]:
        pairs = [part.strip() for part in str(value).split(",") if part.strip()]
        for pair in pairs:
            if not TEST_NUMBER.match(pair):
                raise ValidationError(f"takes +E164:digits pairs separated by commas, not {pair!r}")
        return dict(pair.split(":") for pair in pairs)


class WebhookUrls(fields.Field):
    """``URL`` or ``URL|type,type`` entries separated by white space: each endpoint with the event types it
    wants (all of them when none are named)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[tuple[str, tuple]]:
        endpoints = []
        for entry in str(value).split():
            url, _, wanted = entry.partition("|")
            types = tuple(filter(None, (word.strip() for word in wanted.split(",")))) or WEBHOOK_EVENT_TYPES
            unknown = set(types) - set(WEBHOOK_EVENT_TYPES)
            if unknown:
                raise ValidationError(f"unknown event types {', '.join(sorted(unknown))} for {url}")
            if not re.match(r"^https?://[^/\s]+", url):
                raise ValidationError(f"takes http(s) URLs, not {url!r}")
            endpoints.append((url, types))
        return endpoints


class WebhookSecrets(fields.Field):
    """Comma-separated Standard Webhooks secrets (``whsec_`` and base64 of 24 bytes or more), the newest first."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        found = [word.strip() for word in str(value).split(",") if word.strip()]
        for secret in found:
            encoded = secret.removeprefix("whsec_").rstrip("=")
            try:
                key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError("each secret is whsec_ followed by base64") from None
            if len(key) < 24:
                raise ValidationError("a secret must hold at least 24 bytes")
        return found


class Qualification(fields.Field):
    """What makes a referral qualify: ``immediate``, ``after_days:N`` (the invitee is still there N days later)
    or ``on_event`` (the programme's backend says so): a (mode, days) pair."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, int]:
        word = str(value).strip().lower()
        if word in {"immediate", "on_event"}:
            return (word, 0)
        mode, _, days = word.partition(":")
        if mode == "after_days" and days.isdigit() and int(days) > 0:
            return (mode, int(days))
        raise ValidationError(f"immediate, after_days:N (N at least 1) or on_event, not {value!r}")


class Prefixes(fields.Field):
    """Comma-separated E.164 prefixes (``+7958,+44770``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        found = tuple(word.strip() for word in str(value).split(",") if word.strip())
        for prefix in found:
            if not re.fullmatch(r"\+[1-9][0-9]{0,14}", prefix):
                raise ValidationError(f"takes prefixes like +7958, not {prefix!r}")
        return found


def environment() -> Env:
    """An ``Env`` that collects every error until ``seal()``, with the parsers above."""
    env = Env(eager=False)
    for name, field in {
        "text": Text,
        "word": Word,
        "whole": Whole,
        "flag": Flag,
        "threshold": Threshold,
        "delay": Delay,
        "regions": Regions,
        "test_numbers": TestNumbers,
        "webhook_urls": WebhookUrls,
        "webhook_secrets": WebhookSecrets,
        "qualification": Qualification,
        "prefixes": Prefixes,
    }.items():
        env.add_parser_from_field(name, field)
    return env

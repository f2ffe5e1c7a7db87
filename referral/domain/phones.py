"""Phone numbers: any common written form in, E.164 out, mobile-capable numbers only."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

INVALID_PHONE_MESSAGE = "Enter a valid mobile phone number."
# The longest honest spelling ("+7 (999) 123-45-67 " and friends) is far below this; longer is junk.
MAX_PHONE_INPUT_LENGTH = 32
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


class InvalidPhone(ValueError):
    """The text is not a valid mobile phone number."""


def normalise_phone(raw: str, region: str) -> str:
    """``raw`` in E.164 (``+79991234567``); ``region`` applies to numbers written without ``+``."""
    if not isinstance(raw, str) or len(raw) > MAX_PHONE_INPUT_LENGTH:
        raise InvalidPhone(INVALID_PHONE_MESSAGE)
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        raise InvalidPhone(INVALID_PHONE_MESSAGE) from None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise InvalidPhone(INVALID_PHONE_MESSAGE)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def for_people(phone: str) -> str:
    """``+79991234567`` as ``+7 999 123-45-67``: the international format, as people write numbers."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone), PhoneNumberFormat.INTERNATIONAL)
    except NumberParseException:
        return phone


def masked_for_people(phone: str) -> str:
    """``+79991234567`` as ``+7 999 ***-**-67``: enough to recognise a friend, not enough to call them."""
    try:
        shown = phonenumbers.format_number(phonenumbers.parse(phone), PhoneNumberFormat.INTERNATIONAL)
    except NumberParseException:
        return "***"
    country, _, rest = shown.partition(" ")
    area, _, number = rest.partition(" ")
    digits = sum(char.isdigit() for char in number)
    masked, seen = [], 0
    for char in number:
        if char.isdigit():
            seen += 1
            masked.append(char if seen > digits - 2 else "*")
        else:
            masked.append(char)
    return f"{country} {area} {''.join(masked)}"

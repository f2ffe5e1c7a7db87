"""The words the console shows for the codes its data keeps: what a one-time code was for, where an SMS, a
reward or a webhook delivery is. A page writes ``{{ value | word("sms") }}``; a code no table here knows is
shown as it is kept."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

WORDS = {
    # domain/codes.py Purpose (the login_codes table's known_purpose)
    "purpose": {
        "login": _l("Sign-in"),
        "phone_change": _l("Phone change"),
        "account_deletion": _l("Account deletion"),
        "console_signin": _l("Console sign-in"),
    },
    # domain/deliveries.py SMS_STATUSES
    "sms": {"queued": _l("Queued"), "retrying": _l("Retrying"), "sent": _l("Sent"), "failed": _l("Failed")},
    # console/programme_views.py REWARD_STATUSES
    "reward": {"earned": _l("Earned"), "fulfilled": _l("Fulfilled"), "cancelled": _l("Cancelled")},
    # infra/models.py WEBHOOK_STATUSES
    "webhook": {
        "pending": _l("Pending"),
        "delivered": _l("Delivered"),
        "failed": _l("Failed"),
        "disabled": _l("Endpoint disabled"),
    },
}


def word(value: str, kind: str) -> str:
    """``value`` of the ``kind`` in the page's language."""
    return str(WORDS[kind].get(value, value))

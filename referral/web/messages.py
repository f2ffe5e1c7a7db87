"""What a person reads when a rule says no: one sentence per stable error code, in their language."""

from __future__ import annotations

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from referral.domain.errors import DomainError

BY_CODE = {
    "invalid_phone": _l("Enter a mobile phone number, for example +7 999 123-45-67."),
    "phone_region_not_allowed": _l("We do not send codes to numbers of this country."),
    "code_resend_too_soon": _l("A code was sent moments ago. Wait a little before asking for another."),
    "rate_limited": _l("Too many attempts. Try again later."),
    "code_invalid": _l("The code is wrong."),
    "code_expired": _l("This code has expired or was already used. Ask for a new one."),
    "code_attempts_exceeded": _l("Too many wrong codes. Ask for a new one."),
    "invite_code_not_found": _l("Nobody has this invite code. Check it and try again."),
    "invite_already_activated": _l("You have already entered an invite code."),
    "invite_code_own": _l("This is your own invite code: share it with friends instead."),
    "invite_cycle": _l("This person was invited by you (directly or further down), so they cannot invite you."),
    "phone_taken": _l("Another account uses this phone number."),
    "phone_unchanged": _l("This is already your phone number."),
    "token_revoked": _l("Your session has ended. Sign in again."),
    "names_too_long": _l("Names are at most 64 characters."),
    "code_format": _l("The code is digits only."),
    "account_blocked": _l("This account is blocked. Contact support."),
    "authenticator_code_invalid": _l("The authenticator code is wrong or was used already. Wait for the next one."),
    "session_not_found": _l("That session has already ended."),
    "user_not_found": _l("There is no such user (any more)."),
    "reason_required": _l("Say why: the reason goes into the audit log."),
    "deletion_not_confirmed": _l("Type the user's whole phone number to confirm the deletion."),
    "referral_not_held": _l("This referral is no longer waiting for a review (someone decided it)."),
    "referral_not_found": _l("This user is nobody's referral."),
    "reward_not_found": _l("There is no such reward."),
    "reward_cancelled": _l("This reward was cancelled (its referral was voided): it cannot be fulfilled."),
    "reward_rule_invalid": _l("The rule is not complete: check its kind, its number, its amount and its cap."),
}


def for_error(error: DomainError) -> str:
    if error.code == "code_invalid" and isinstance(left := error.extra.get("attempts_left"), int):
        if left == 0:
            return gettext("The code is wrong, and that was the last try for it. Ask for a new one.")
        return ngettext("The code is wrong. %(num)d try left.", "The code is wrong. %(num)d tries left.", left)
    return str(BY_CODE.get(error.code, _l("That did not work. Try again.")))

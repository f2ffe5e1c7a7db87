"""Domain errors: what went wrong, in the domain's words. ``http/problems.py`` turns each into a problem response."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the product said no. ``code`` is the stable machine code clients branch on."""

    code = "domain_error"
    detail = "The request breaks a rule of the service."

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.retry_after = retry_after
        self.extra = extra


class CodeResendTooSoon(DomainError):
    code = "code_resend_too_soon"
    detail = "A code was sent to this number moments ago. Wait before asking for another."


class CodeInvalid(DomainError):
    code = "code_invalid"
    detail = "The code is wrong."


class CodeExpired(DomainError):
    code = "code_expired"
    detail = "There is no live code for this number. Ask for a new one."


class CodeAttemptsExceeded(DomainError):
    code = "code_attempts_exceeded"
    detail = "Too many wrong codes. Ask for a new one."


class InviteCodeNotFound(DomainError):
    code = "invite_code_not_found"
    detail = "No user has this invite code."


class InviteAlreadyActivated(DomainError):
    code = "invite_already_activated"
    detail = "You have already entered an invite code."


class InviteCodeOwn(DomainError):
    code = "invite_code_own"
    detail = "You cannot enter your own invite code."


class InviteCycle(DomainError):
    code = "invite_cycle"
    detail = "The owner of this code was invited by you, directly or further down."


class PhoneTaken(DomainError):
    code = "phone_taken"
    detail = "Another account uses this phone number."


class PhoneUnchanged(DomainError):
    code = "phone_unchanged"
    detail = "This is already your phone number."


class TokenRevoked(DomainError):
    code = "token_revoked"
    detail = "This session has ended. Sign in again."


class RateLimited(DomainError):
    code = "rate_limited"
    detail = "Too many requests. Try again later."


class SendLimitReached(RateLimited):
    detail = "This number has been sent too many codes. Try again later."


class PhoneLocked(RateLimited):
    detail = "Too many wrong codes for this number. It is locked for a while."


class PhoneRegionNotAllowed(DomainError):
    code = "phone_region_not_allowed"
    detail = "We do not send codes to numbers of this country."


class SessionNotFound(DomainError):
    code = "session_not_found"
    detail = "You have no live session with this id."


class AccountBlocked(DomainError):
    code = "account_blocked"
    detail = "This account is blocked. Contact support."


class AuthenticatorCodeInvalid(DomainError):
    code = "authenticator_code_invalid"
    detail = "The authenticator code is wrong or was used already."


class UserNotFound(DomainError):
    code = "user_not_found"
    detail = "There is no user with this id."


class ReasonRequired(DomainError):
    code = "reason_required"
    detail = "Say why: the reason goes into the audit log."


class DeletionNotConfirmed(DomainError):
    code = "deletion_not_confirmed"
    detail = "Type the user's whole phone number to confirm the deletion."


class ReferralNotFound(DomainError):
    code = "referral_not_found"
    detail = "This user is nobody's referral."


class ReferralVoided(DomainError):
    code = "referral_voided"
    detail = "This referral was voided; it can no longer qualify."


class ReferralNotHeld(DomainError):
    code = "referral_not_held"
    detail = "This referral is not waiting for a review."


class RewardNotFound(DomainError):
    code = "reward_not_found"
    detail = "There is no reward with this id."


class RewardCancelled(DomainError):
    code = "reward_cancelled"
    detail = "This reward was cancelled (its referral was voided); it cannot be fulfilled."


class RewardRuleInvalid(DomainError):
    code = "reward_rule_invalid"
    detail = "The reward rule is not complete or not consistent."


class ApiKeyInvalid(DomainError):
    code = "api_key_invalid"
    detail = "The API key is missing, wrong or revoked."

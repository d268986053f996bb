"""The second-factor branch of the error tree (issue 16): TOTP, recovery codes, passkeys and
step-up. Part of the one tree of server/core/errors.py (its docstring draws all of it), kept
in a module of its own for size."""

from __future__ import annotations

from server.core.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized


class InvalidMfaToken(Unauthorized):
    """The mfaToken of a sign-in waiting for its second factor is unknown, used or expired."""

    code = "INVALID_MFA_TOKEN"
    message = "Invalid or expired MFA token"


class InvalidMfaCode(Unauthorized):
    """A wrong (or replayed) code at sign-in: it counts toward the lockout like a password."""

    code = "INVALID_MFA_CODE"
    message = "Invalid authentication code"


class ReauthRequired(Unauthorized):
    """A sensitive change by an account with a second factor, long after its sign-in."""

    code = "REAUTH_REQUIRED"
    message = ("Recent authentication required: add a current `code` (or a `passkey` "
               "assertion), or confirm with POST /auth/reauth")


class MfaCodeIncorrect(BadRequest):
    """A wrong code where a signed-in user manages a factor (confirm, removal)."""

    code = "MFA_CODE_INCORRECT"
    message = "Authentication code is incorrect"


class MfaSetupMissing(BadRequest):
    code = "MFA_SETUP_REQUIRED"
    message = "No TOTP setup in progress: start one with POST /auth/mfa/totp/setup"


class MfaNotEnabled(BadRequest):
    code = "MFA_NOT_ENABLED"
    message = "TOTP is not enabled"


class MfaEnrolmentRequired(Forbidden):
    """An account whose role is in security.mfa_required_roles, without a second factor."""

    code = "MFA_ENROLMENT_REQUIRED"
    message = ("Your role requires a second factor: enrol one with POST "
               "/auth/mfa/totp/setup and /auth/mfa/totp/confirm")


class MfaAlreadyEnabled(Conflict):
    code = "MFA_ALREADY_ENABLED"
    message = "TOTP is already enabled"


class PasskeyRejected(BadRequest):
    """A registration the relying party cannot accept (origin, rp, signature, format)."""

    code = "PASSKEY_REJECTED"
    message = "The passkey could not be verified"


class PasskeyChallengeInvalid(BadRequest):
    """A ceremony whose challenge is unknown, used already or expired: ask for new options."""

    code = "PASSKEY_CHALLENGE_INVALID"
    message = "The passkey challenge is unknown, used or expired: request new options"


class InvalidPasskey(Unauthorized):
    """A passkey sign-in that does not verify (challenge, origin, signature, counter, owner)."""

    code = "INVALID_PASSKEY"
    message = "Passkey sign-in failed"


class PasskeyNotFound(NotFound):
    code = "PASSKEY_NOT_FOUND"
    message = "Passkey not found"


class PasskeyLimitReached(Conflict):
    """A user holds as many passkeys as the service keeps (server/services/passkeys.py)."""

    code = "PASSKEY_LIMIT_REACHED"
    message = "Too many passkeys: remove one before adding another"

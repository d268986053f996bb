"""The one error tree; every 4xx/5xx the service sends is one of these.

    AppError (500 INTERNAL_ERROR)
    ├── BadRequest (400 BAD_REQUEST)
    │   ├── ValidationFailed (VALIDATION_ERROR)   - carries `errors` [{field, message}]
    │   ├── InvalidJson (INVALID_JSON)
    │   ├── InvalidId (INVALID_ID)
    │   ├── CurrentPasswordIncorrect, LastAdmin, InvalidVerificationToken,
    │   │   InvalidResetToken, AlreadyVerified                  (flow errors)
    │   ├── MfaCodeIncorrect, MfaSetupMissing, MfaNotEnabled    (second factors)
    │   ├── PasskeyRejected, PasskeyChallengeInvalid            (passkeys)
    ├── Unauthorized (401 UNAUTHORIZED)
    │   ├── TokenMissing (TOKEN_MISSING)
    │   ├── InvalidToken (INVALID_TOKEN)
    │   ├── TokenExpired (TOKEN_EXPIRED)
    │   ├── BadCredentials (INVALID_CREDENTIALS)
    │   ├── InvalidClient (INVALID_CLIENT)  - service-client HTTP Basic auth; WWW-Authenticate
    │   ├── RefreshTokenMissing, InvalidRefreshToken            (flow errors)
    │   ├── InvalidMfaToken, InvalidMfaCode, ReauthRequired     (second factors)
    │   └── InvalidPasskey (INVALID_PASSKEY)                    (passkey sign-in)
    ├── Forbidden (403 FORBIDDEN)
    │   ├── CrossSiteRequest (CSRF_REJECTED)
    │   ├── MfaEnrolmentRequired (MFA_ENROLMENT_REQUIRED)
    │   └── AccountDeactivated (ACCOUNT_DEACTIVATED)
    ├── NotFound (404 NOT_FOUND)
    │   └── UserNotFound, SessionNotFound, PasskeyNotFound
    ├── MethodNotAllowed (405 METHOD_NOT_ALLOWED)
    ├── RequestTimeout (408 REQUEST_TIMEOUT)  - the body did not arrive within server.body_timeout
    ├── Conflict (409 CONFLICT)
    │   ├── EmailTaken (EMAIL_TAKEN)
    │   ├── MfaAlreadyEnabled (MFA_ALREADY_ENABLED)
    │   └── PasskeyLimitReached (PASSKEY_LIMIT_REACHED)
    ├── PayloadTooLarge (413 PAYLOAD_TOO_LARGE)
    ├── UnsupportedMediaType (415 UNSUPPORTED_MEDIA_TYPE)
    ├── AccountLocked (423 ACCOUNT_LOCKED)
    ├── TooManyRequests (429 RATE_LIMITED)
    └── ServiceUnavailable (503 SERVICE_UNAVAILABLE)

Models and services raise these; they never import aiohttp.web.
middlewares/error_handler.py is the only place they become a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    message: ClassVar[str] = "Internal Server Error"

    def __init__(self, message: str | None = None, *, errors: list[FieldError] | None = None,
                 headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        self.text = message or self.message
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})  # additional top-level body fields (e.g. retryAfter)
        super().__init__(self.text)


class BadRequest(AppError):
    status = 400
    code = "BAD_REQUEST"
    message = "Bad request"


class ValidationFailed(BadRequest):
    code = "VALIDATION_ERROR"
    message = "Validation failed"


class InvalidJson(BadRequest):
    code = "INVALID_JSON"
    message = "Invalid JSON body"


class InvalidId(BadRequest):
    code = "INVALID_ID"
    message = "Invalid ID format"


class Unauthorized(AppError):
    status = 401
    code = "UNAUTHORIZED"
    message = "Unauthorized"


class TokenMissing(Unauthorized):
    code = "TOKEN_MISSING"
    message = "Access token is required"


class InvalidToken(Unauthorized):
    code = "INVALID_TOKEN"
    message = "Invalid token"


class TokenExpired(Unauthorized):
    code = "TOKEN_EXPIRED"
    message = "Token expired"


class BadCredentials(Unauthorized):
    code = "INVALID_CREDENTIALS"
    message = "Invalid email or password"


class InvalidClient(Unauthorized):
    """A service client's HTTP Basic credentials are missing, malformed or wrong (RFC 6749
    5.2 `invalid_client`): always with the Basic challenge."""

    code = "INVALID_CLIENT"
    message = "Client authentication failed"

    def __init__(self, message: str | None = None, **options: Any) -> None:
        super().__init__(message, **options)
        self.headers.setdefault("WWW-Authenticate", 'Basic realm="gatehouse", charset="UTF-8"')


class Forbidden(AppError):
    status = 403
    code = "FORBIDDEN"
    message = "Insufficient permissions"


class CrossSiteRequest(Forbidden):
    """A cookie route called from a page the operator did not allow (login CSRF)."""

    code = "CSRF_REJECTED"
    message = "Cross-site request refused: the Origin is not allowed"


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"
    message = "Not found"


class MethodNotAllowed(AppError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    message = "Method not allowed"


class Conflict(AppError):
    status = 409
    code = "CONFLICT"
    message = "Conflict"


class RequestTimeout(AppError):
    status = 408
    code = "REQUEST_TIMEOUT"
    message = "Request body not received in time"


class PayloadTooLarge(AppError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "Payload too large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    message = "Unsupported media type"


class AccountLocked(AppError):
    status = 423
    code = "ACCOUNT_LOCKED"
    message = "Account is temporarily locked due to too many failed login attempts"


class TooManyRequests(AppError):
    status = 429
    code = "RATE_LIMITED"
    message = "Too many requests from this IP, please try again later"


class ServiceUnavailable(AppError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    message = "Service temporarily unavailable"


# Flow errors: raised by services and models, documented per route by the handlers.


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "User not found"


class CurrentPasswordIncorrect(BadRequest):
    code = "CURRENT_PASSWORD_INCORRECT"
    message = "Current password is incorrect"


class LastAdmin(BadRequest):
    code = "LAST_ADMIN"
    message = "Cannot remove the last active admin: promote another admin first"


class RefreshTokenMissing(Unauthorized):
    code = "REFRESH_TOKEN_MISSING"
    message = "Refresh token not found"


class InvalidRefreshToken(Unauthorized):
    code = "INVALID_REFRESH_TOKEN"
    message = "Invalid refresh token"


class AccountDeactivated(Forbidden):
    code = "ACCOUNT_DEACTIVATED"
    message = "Account is deactivated"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"
    message = "Session not found"


class InvalidVerificationToken(BadRequest):
    code = "INVALID_VERIFICATION_TOKEN"
    message = "Invalid or expired verification token"


class InvalidResetToken(BadRequest):
    code = "INVALID_RESET_TOKEN"
    message = "Invalid or expired reset token"


class AlreadyVerified(BadRequest):
    code = "ALREADY_VERIFIED"
    message = "Email is already verified"


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"
    message = "User already exists with this email"


def all_error_classes() -> list[type[AppError]]:
    """Every AppError class, for the OpenAPI list of error codes."""
    found: list[type[AppError]] = [AppError]
    for cls in found:
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    return found

"""Request shapes of the auth routes; unknown fields are refused (400)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from handlers.schemas.fields import DateOfBirth, Email, Name, Password, PhoneNumber


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class RegisterSchema(_Strict):
    firstName = Name(label="First name", required=True)
    lastName = Name(label="Last name", required=True)
    email = Email(required=True)
    password = Password(required=True)
    phoneNumber = PhoneNumber(allow_none=True)
    dateOfBirth = DateOfBirth(allow_none=True)


class LoginSchema(_Strict):
    email = Email(required=True)
    # Login checks the stored hash only: the strength rules apply when a password is set.
    # (A validator returning False is deprecated in marshmallow 3.26 and warns on every call.)
    password = fields.String(required=True, validate=validate.Length(
                                 min=1, max=1024, error="Password is required"),
                             error_messages={"invalid": "Password must be a string"},
                             metadata={"format": "password"})


class RefreshTokenSchema(_Strict):
    refreshToken = fields.String(load_default=None, allow_none=True)


class LogoutSchema(_Strict):
    refreshToken = fields.String(load_default=None, allow_none=True)


class ForgotPasswordSchema(_Strict):
    email = Email(required=True, error_messages={"required": "Email is required"})


class ResetPasswordSchema(_Strict):
    password = Password(required=True)


class TokenPathSchema(Schema):
    token = fields.String(required=True)


class SessionPathSchema(Schema):
    id = fields.String(required=True)


class EmptySchema(_Strict):
    """Routes that take no body: any field is unknown (400)."""

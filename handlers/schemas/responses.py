"""Response shapes of the auth and users routes (API.md), with examples for the docs."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from handlers.schemas.envelopes import success_body, success_schema
from handlers.schemas.fields import IsoDateTime
from handlers.schemas.mfa import MFA_FIELDS, MfaStatusSchema
from models.users import ROLES

EXAMPLE_ID = "65f0c2a9e4b0a1b2c3d4e5f6"
EXAMPLE_TIME = "2026-01-01T12:00:00.000Z"
EXAMPLE_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NWYwIn0.c2lnbmF0dXJl"


class UserSummarySchema(Schema):
    """The user as register and login return it."""

    id = fields.String(required=True, metadata={"example": EXAMPLE_ID})
    first_name = fields.String(required=True, data_key="firstName",
                               metadata={"example": "Ada"})
    last_name = fields.String(required=True, data_key="lastName",
                              metadata={"example": "Lovelace"})
    email = fields.String(required=True, metadata={"format": "email",
                                                   "example": "ada@example.com"})
    role = fields.String(required=True, metadata={"enum": list(ROLES)})
    is_email_verified = fields.Boolean(required=True, data_key="isEmailVerified")


class LoginUserSchema(UserSummarySchema):
    last_login = IsoDateTime(required=True, allow_none=True, data_key="lastLogin",
                               metadata={"format": "date-time", "example": EXAMPLE_TIME,
                                         "description": "This sign-in"})


class UserPreferencesSchema(Schema):
    theme = fields.String(required=True, metadata={"enum": ["light", "dark"]})
    notifications = fields.Boolean(required=True)
    language = fields.String(required=True, metadata={"example": "en"})


class UserSchema(Schema):
    """A user as the users routes return it: never a password, hash or token."""

    id = fields.String(required=True, metadata={"example": EXAMPLE_ID})
    first_name = fields.String(required=True, data_key="firstName",
                               metadata={"example": "Ada"})
    last_name = fields.String(required=True, data_key="lastName",
                              metadata={"example": "Lovelace"})
    full_name = fields.String(required=True, data_key="fullName",
                              metadata={"example": "Ada Lovelace"})
    email = fields.String(required=True, metadata={"format": "email",
                                                   "example": "ada@example.com"})
    pending_email = fields.String(required=True, allow_none=True, data_key="pendingEmail",
                                  metadata={"format": "email", "example": None,
                                            "description": "An email change waiting for its "
                                            "mailed link; `email` still signs in"})
    role = fields.String(required=True, metadata={"enum": list(ROLES)})
    is_active = fields.Boolean(required=True, data_key="isActive")
    is_email_verified = fields.Boolean(required=True, data_key="isEmailVerified")
    phone_number = fields.String(required=True, allow_none=True, data_key="phoneNumber",
                                 metadata={"example": "+44 20 7946 0958"})
    date_of_birth = IsoDateTime(required=True, allow_none=True, data_key="dateOfBirth",
                                  metadata={"format": "date-time",
                                            "example": "1990-04-01T00:00:00.000Z"})
    profile_picture = fields.String(required=True, allow_none=True, data_key="profilePicture",
                                    metadata={"example": "https://example.com/ada.png"})
    preferences = fields.Nested(UserPreferencesSchema, required=True)
    last_login = IsoDateTime(required=True, allow_none=True, data_key="lastLogin",
                               metadata={"format": "date-time", "example": EXAMPLE_TIME})
    created_at = IsoDateTime(required=True, data_key="createdAt",
                               metadata={"format": "date-time", "example": EXAMPLE_TIME})
    updated_at = IsoDateTime(required=True, data_key="updatedAt",
                               metadata={"format": "date-time", "example": EXAMPLE_TIME})
    mfa = fields.Nested(MfaStatusSchema, metadata={
        "description": "GET /users/me only: the second factors set (never a secret)"})


class SessionSchema(Schema):
    id = fields.String(required=True, metadata={"example": EXAMPLE_ID})
    created_at = IsoDateTime(required=True, data_key="createdAt",
                               metadata={"format": "date-time", "example": EXAMPLE_TIME})
    last_used_at = IsoDateTime(required=True, data_key="lastUsedAt",
                                 metadata={"format": "date-time", "example": EXAMPLE_TIME})
    user_agent = fields.String(required=True, allow_none=True, data_key="userAgent",
                               metadata={"example": "Mozilla/5.0"})
    ip = fields.String(required=True, allow_none=True, metadata={"example": "203.0.113.7"})
    current = fields.Boolean(required=True, metadata={
        "description": "True for the session of the token that asked"})


class PaginationSchema(Schema):
    page = fields.Integer(required=True, metadata={"example": 1})
    limit = fields.Integer(required=True, metadata={"example": 20})
    total = fields.Integer(required=True, metadata={"example": 42})
    pages = fields.Integer(required=True, metadata={"example": 3})


_ACCESS_TOKEN = fields.String(required=True, data_key="accessToken", metadata={
    "description": "JWT HS256 access token; send as `Authorization: Bearer <token>`",
    "example": EXAMPLE_JWT})

USER_EXAMPLE = {
    "id": EXAMPLE_ID, "firstName": "Ada", "lastName": "Lovelace", "fullName": "Ada Lovelace",
    "email": "ada@example.com", "pendingEmail": None, "role": "user", "isActive": True,
    "isEmailVerified": True,
    "phoneNumber": None, "dateOfBirth": None, "profilePicture": None,
    "preferences": {"theme": "light", "notifications": True, "language": "en"},
    "lastLogin": EXAMPLE_TIME, "createdAt": EXAMPLE_TIME, "updatedAt": EXAMPLE_TIME,
}
_SUMMARY_EXAMPLE = {"id": EXAMPLE_ID, "firstName": "Ada", "lastName": "Lovelace",
                    "email": "ada@example.com", "role": "user", "isEmailVerified": False}
REGISTERED = "User registered successfully. Please check your email to verify your account."


def message_example(message: str | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A success body example: `{"success": true, "message"?: ..., "data"?: ...}`."""
    return success_body(data, message)


def user_example(message: str | None) -> dict[str, Any]:
    """A `data.user` success body example with `message`."""
    return message_example(message, {"user": USER_EXAMPLE})


MessageResponseSchema = success_schema("MessageResponseSchema", message="Logout successful",
                                       example=message_example("Logout successful"))
RegisterResponseSchema = success_schema(
    "RegisterResponseSchema", {"user": fields.Nested(UserSummarySchema, required=True),
                               "access_token": _ACCESS_TOKEN},
    message=REGISTERED, example=message_example(REGISTERED, {
        "user": _SUMMARY_EXAMPLE, "accessToken": EXAMPLE_JWT}))
# Login answers one of two shapes, both 200: signed in (user, accessToken, the cookie), or,
# for an account with a second factor, mfaRequired + mfaToken (handlers/schemas/mfa.py) and
# nothing else. Hence no field is required here.
LoginResponseSchema = success_schema(
    "LoginResponseSchema", {"user": fields.Nested(LoginUserSchema),
                            "access_token": fields.String(
                                data_key="accessToken", metadata=_ACCESS_TOKEN.metadata),
                            **MFA_FIELDS},
    message="Login successful", example=message_example("Login successful", {
        "user": {**_SUMMARY_EXAMPLE, "isEmailVerified": True, "lastLogin": EXAMPLE_TIME},
        "accessToken": EXAMPLE_JWT}))
RefreshResponseSchema = success_schema(
    "RefreshResponseSchema", {
        "access_token": _ACCESS_TOKEN,
        "refresh_token": fields.String(data_key="refreshToken", metadata={
            "description": "The new refresh token, only when it was sent in the body"})},
    message="Token refreshed successfully",
    example=message_example("Token refreshed successfully", {"accessToken": EXAMPLE_JWT}))
SessionsResponseSchema = success_schema(
    "SessionsResponseSchema", {"sessions": fields.List(fields.Nested(SessionSchema),
                                                       required=True)},
    example=message_example(None, {"sessions": [{
        "id": EXAMPLE_ID, "createdAt": EXAMPLE_TIME, "lastUsedAt": EXAMPLE_TIME,
        "userAgent": "Mozilla/5.0", "ip": "203.0.113.7", "current": True}]}))
UserResponseSchema = success_schema(
    "UserResponseSchema", {"user": fields.Nested(UserSchema, required=True)},
    example=user_example(None))
UsersPageResponseSchema = success_schema(
    "UsersPageResponseSchema", {"users": fields.List(fields.Nested(UserSchema), required=True),
                                "pagination": fields.Nested(PaginationSchema, required=True)},
    example=message_example(None, {"users": [USER_EXAMPLE], "pagination": {
        "page": 1, "limit": 20, "total": 1, "pages": 1}}))

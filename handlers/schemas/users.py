"""Request shapes of the users routes; unknown fields are refused (400)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from handlers.schemas.fields import DateOfBirth, Email, Name, Password, PhoneNumber
from handlers.schemas.mfa import step_up_passkey
from models.user_listing import LISTING_SORTS
from models.users import ROLES

PICTURE_MESSAGE = "Profile picture must be an http(s) URL of a jpg, jpeg, png or gif image"
_PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")  # en, fr, pt-BR, zh_Hant
_is_url = validate.URL(schemes={"http", "https"}, require_tld=False, error=PICTURE_MESSAGE)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ProfilePicture(fields.String):
    """An http(s) URL whose path names a jpg/jpeg/png/gif image (a query string may follow)."""

    default_error_messages = {"invalid": PICTURE_MESSAGE}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        if len(text) > 2048:
            raise ValidationError(PICTURE_MESSAGE)
        _is_url(text)
        if not urlsplit(text).path.lower().endswith(_PICTURE_SUFFIXES):
            raise ValidationError(PICTURE_MESSAGE)
        return text


class StrictBoolean(fields.Boolean):
    """JSON true or false only: "yes", 1 and "true" are not booleans in a JSON body."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PreferencesSchema(_Strict):
    theme = fields.String(validate=validate.OneOf(
        ("light", "dark"), error="Theme must be light or dark"))
    notifications = StrictBoolean(error_messages={
        "invalid": "Notifications must be true or false"})
    language = fields.String(validate=validate.Regexp(
        _LANGUAGE, error="Language must be a language code such as en or pt-BR"))


def _current_password(*, required: bool = True, description: str | None = None) -> fields.String:
    # Only compared with the stored hash: no strength rules.
    metadata = {"format": "password", **({"description": description} if description else {})}
    return fields.String(
        required=required, validate=validate.Length(min=1, max=1024),
        error_messages={"required": "Current password is required",
                        "invalid": "Current password must be a string"}, metadata=metadata)


def _step_up_code() -> fields.String:
    return fields.String(
        validate=validate.Regexp(r"^\d{6}$", error="Code must be the 6 digits shown by the "
                                 "authenticator app"),
        metadata={"example": "123456", "description": (
            "Accounts with a second factor: a current code, unless the session signed in "
            "(or re-authenticated) within security.reauth_window; else 401 REAUTH_REQUIRED")})


class _ProfileFieldsSchema(_Strict):
    """The profile fields a user and an admin may change."""

    firstName = Name(label="First name")
    lastName = Name(label="Last name")
    email = Email()
    phoneNumber = PhoneNumber(allow_none=True)
    dateOfBirth = DateOfBirth(allow_none=True)
    profilePicture = ProfilePicture(allow_none=True)
    preferences = fields.Nested(PreferencesSchema, error_messages={
        "type": "Preferences must be an object"})


class ProfileUpdateSchema(_ProfileFieldsSchema):
    """PATCH /users/me: any of these; role, isActive and password are unknown fields here."""

    currentPassword = _current_password(required=False, description=(
        "Required when `email` changes (a stolen access token alone cannot move the "
        "account); not checked otherwise"))
    code = _step_up_code()
    passkey = step_up_passkey()


class DeactivateMeSchema(_Strict):
    """DELETE /users/me: the account's password, so a stolen access token cannot end it."""

    currentPassword = _current_password()
    code = _step_up_code()
    passkey = step_up_passkey()


_ADMIN_PROOF_DOC = (
    "The admin's own password: needed (with `code` when the admin has a second factor) "
    "unless the admin signed in, or re-authenticated (POST /auth/reauth), within "
    "security.reauth_window; else 401 REAUTH_REQUIRED. Checked under the login lockout.")


def _admin_code() -> fields.String:
    return fields.String(
        validate=validate.Regexp(r"^\d{6}$", error="Code must be the 6 digits shown by the "
                                 "authenticator app"),
        metadata={"example": "123456", "description": (
            "With `currentPassword`, for an admin with a second factor: a current code")})


class AdminStepUpSchema(_Strict):
    """The admin's step-up (issue 16) on DELETE /users/{id} and DELETE /users/{id}/mfa: an
    optional body, needed only when the admin's sign-in is older than the window."""

    currentPassword = _current_password(required=False, description=_ADMIN_PROOF_DOC)
    code = _admin_code()
    passkey = step_up_passkey()


class AdminUpdateSchema(_ProfileFieldsSchema):
    """PATCH /users/{id}: the profile fields plus role and isActive; a change of role,
    isActive or email needs the admin's step-up (currentPassword, code)."""

    role = fields.String(validate=validate.OneOf(
        ROLES, error=f"Role must be one of: {', '.join(ROLES)}"))
    isActive = StrictBoolean(error_messages={
        "invalid": "isActive must be true or false"})
    currentPassword = _current_password(required=False, description=(
        "Only when `role`, `isActive` or `email` is sent. " + _ADMIN_PROOF_DOC))
    code = _admin_code()
    passkey = step_up_passkey()


class ChangePasswordSchema(_Strict):
    currentPassword = _current_password()
    newPassword = Password(required=True)
    code = _step_up_code()
    passkey = step_up_passkey()


class ListUsersQuerySchema(_Strict):
    """GET /users: paging, filters, search and one of the whitelisted sorts."""

    page = fields.Integer(
        load_default=1, error_messages={"invalid": "page must be a whole number"},
        validate=validate.Range(min=1, max=1_000_000,
                                error="page must be a whole number of at least 1"))
    limit = fields.Integer(
        load_default=20, error_messages={"invalid": "limit must be a whole number"},
        validate=validate.Range(min=1, max=100, error="limit must be between 1 and 100"))
    role = fields.String(validate=validate.OneOf(
        ROLES, error=f"role must be one of: {', '.join(ROLES)}"))
    isActive = fields.Boolean(error_messages={
        "invalid": "isActive must be true or false"})
    search = fields.String(validate=validate.Length(
        max=100, error="search must be at most 100 characters"))
    sort = fields.String(load_default="-createdAt", validate=validate.OneOf(
        tuple(LISTING_SORTS), error=f"sort must be one of: {', '.join(LISTING_SORTS)}"))


class UserIdPathSchema(Schema):
    id = fields.String(required=True, metadata={"pattern": "^[0-9a-fA-F]{24}$",
                                                "example": "65f0c2a9e4b0a1b2c3d4e5f6"})

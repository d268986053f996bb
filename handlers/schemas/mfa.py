"""Request and response shapes of the second-factor routes (/auth/mfa/..., issue 16)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from handlers.schemas.envelopes import success_body, success_schema
from handlers.schemas.fields import IsoDateTime

CODE_MESSAGE = "Code must be the 6 digits shown by the authenticator app"


def _code(*, required: bool = False) -> fields.String:
    return fields.String(required=required,
                         validate=validate.Regexp(r"^\d{6}$", error=CODE_MESSAGE),
                         error_messages={"invalid": CODE_MESSAGE},
                         metadata={"example": "123456",
                                   "description": "The app's current 6-digit code"})


def step_up_passkey() -> fields.Dict:
    """A passkey assertion as a step-up's second factor (issue 16 item 5)."""
    return fields.Dict(metadata={"description": (
        "Accounts with a passkey: instead of `code`, the PublicKeyCredential (JSON) "
        "navigator.credentials.get() answered for POST /auth/reauth/passkey/options from "
        "this session (single use; a refused one counts toward the lockout)")})


EXAMPLE_TIME = "2026-01-01T12:05:00.000Z"
EXAMPLE_CODES = ["k7mpq-x3vna", "d9e2w-hq4tr"]
EXAMPLE_MFA_TOKEN = "q3Yx0t7mN1c4r9Pz2fWk8bLh6sJd5gVa0eUo3iTy1uQ"  # noqa: S105 - an example


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class TotpCodeSchema(_Strict):
    code = _code(required=True)


class RemoveTotpSchema(_Strict):
    currentPassword = fields.String(required=True, validate=validate.Length(
        min=1, max=1024, error="Current password is required"),
        metadata={"format": "password"})
    code = _code(required=True)


class StepUpSchema(_Strict):
    """Adding TOTP or regenerating recovery codes: an optional body, needed only when the
    session signed in (or re-authenticated) longer ago than security.reauth_window."""

    currentPassword = fields.String(validate=validate.Length(min=1, max=1024), metadata={
        "format": "password", "description": (
            "Needed (with `code` or `passkey` when the account has a factor) unless the "
            "session signed in within security.reauth_window; else 401 REAUTH_REQUIRED. "
            "Checked under the login lockout.")})
    code = _code()
    passkey = step_up_passkey()


class ReauthSchema(_Strict):
    password = fields.String(required=True, validate=validate.Length(
        min=1, max=1024, error="Password is required"), metadata={"format": "password"})
    code = _code()
    # With both, the passkey is the factor checked (server/services/step_up.py): a refusal
    # is not the OpenAPI document's to express, and a code beside it buys nothing.
    passkey = step_up_passkey()


class MfaVerifySchema(_Strict):
    mfaToken = fields.String(required=True, validate=validate.Length(min=1, max=256),
                             metadata={"description": "From the login answer; single use, "
                                       "5 minutes"})
    code = _code()
    recoveryCode = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "example": "k7mpq-x3vna", "description": "One of the recovery codes; each works once"})
    passkey = fields.Dict(metadata={
        "description": "The PublicKeyCredential (JSON) navigator.credentials.get() answered "
                       "for POST /auth/mfa/passkeys/authenticate/options"})

    @validates_schema
    def _one_factor(self, data: dict[str, Any], **_: Any) -> None:
        if sum(name in data for name in ("code", "recoveryCode", "passkey")) != 1:
            raise ValidationError("Give one of code, recoveryCode or passkey", "code")


_CODES = fields.List(fields.String(), required=True, data_key="recoveryCodes", metadata={
    "description": "Ten single-use codes, shown only now: store them somewhere safe"})

TotpSetupResponseSchema = success_schema(
    "TotpSetupResponseSchema", {
        "secret": fields.String(required=True, metadata={
            "description": "Base32 secret for manual entry; returned only by setup"}),
        "otpauth_uri": fields.String(required=True, data_key="otpauthUri"),
        "qr_svg": fields.String(required=True, data_key="qrSvg", metadata={
            "description": "The otpauth URI as an SVG QR code"})},
    message="Scan the QR code, then confirm with a code",
    example=success_body({"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                          "otpauthUri": "otpauth://totp/Gatehouse:ada%40example.com?secret="
                                        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Gatehouse",
                          "qrSvg": "<svg xmlns=\"http://www.w3.org/2000/svg\">...</svg>"},
                         "Scan the QR code, then confirm with a code"))
RecoveryCodesResponseSchema = success_schema(
    "RecoveryCodesResponseSchema", {"recovery_codes": _CODES},
    message="Two-factor authentication enabled",
    example=success_body({"recoveryCodes": EXAMPLE_CODES}, "Two-factor authentication enabled"))
ReauthResponseSchema = success_schema(
    "ReauthResponseSchema", {"access_token": fields.String(
        required=True, data_key="accessToken", metadata={
            "description": "A new access token whose auth_time is now"})},
    message="Re-authenticated",
    example=success_body({"accessToken": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}, "Re-authenticated"))
MFA_REQUIRED_EXAMPLE = success_body({
    "mfaRequired": True, "factors": ["totp", "recovery_code"], "mfaToken": EXAMPLE_MFA_TOKEN,
    "expiresAt": EXAMPLE_TIME}, "Second factor required")


class MfaStatusSchema(Schema):
    """Which second factors the user has set: never a secret."""

    totp = fields.Boolean(required=True)
    recovery_codes_left = fields.Integer(required=True, data_key="recoveryCodesLeft")
    passkeys = fields.Integer(required=True, metadata={"description": "How many passkeys"})


MFA_FIELDS: dict[str, fields.Field] = {
    "mfa_required": fields.Boolean(data_key="mfaRequired", metadata={
        "description": "Present (true) when a second factor is due: no session yet"}),
    "factors": fields.List(fields.String(metadata={"enum": ["totp", "recovery_code",
                                                            "passkey"]}),
                           metadata={"description": "What POST /auth/mfa/verify accepts"}),
    "mfa_token": fields.String(data_key="mfaToken", metadata={
        "description": "For POST /auth/mfa/verify; single use, 5 minutes"}),
    "expires_at": IsoDateTime(data_key="expiresAt", metadata={"format": "date-time"}),
}

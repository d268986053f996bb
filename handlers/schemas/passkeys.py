"""Request and response shapes of the passkey routes (/auth/mfa/passkeys, /auth/passkeys)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from handlers.schemas.envelopes import success_body, success_schema
from handlers.schemas.fields import IsoDateTime
from handlers.schemas.mfa import EXAMPLE_MFA_TOKEN, EXAMPLE_TIME, _code, step_up_passkey

EXAMPLE_ID = "mK3dVq0Xb5Q2t9rLwYp7Nf1c8Hs4ZgEa"
_NAME = fields.String(validate=validate.Length(min=1, max=64), metadata={
    "example": "Work laptop", "description": "A label for the user (1-64 characters)"})
_CREDENTIAL = {"description": "The PublicKeyCredential as JSON (PublicKeyCredential.toJSON(), "
                              "byte fields base64url), as the browser answered the options"}


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PasskeyPathSchema(Schema):
    id = fields.String(required=True, metadata={"description": "The credential id (base64url)"})


class RegisterPasskeySchema(_Strict):
    credential = fields.Dict(required=True, metadata=_CREDENTIAL)
    name = _NAME
    currentPassword = fields.String(validate=validate.Length(min=1, max=1024), metadata={
        "format": "password", "description": "Needed unless the session signed in within "
                                             "security.reauth_window"})
    code = _code()
    passkey = step_up_passkey()


class RenamePasskeySchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"example": "Work laptop"})


class RemovePasskeySchema(_Strict):
    currentPassword = fields.String(validate=validate.Length(min=1, max=1024), metadata={
        "format": "password", "description": "Needed unless the session signed in within "
                                             "security.reauth_window"})
    code = _code()
    passkey = step_up_passkey()


class MfaPasskeyOptionsSchema(_Strict):
    mfaToken = fields.String(required=True, validate=validate.Length(min=1, max=256),
                             metadata={"description": "From the login answer"})


class PasskeySignInSchema(_Strict):
    credential = fields.Dict(required=True, metadata=_CREDENTIAL)


class PasskeySchema(Schema):
    id = fields.String(required=True, metadata={"example": EXAMPLE_ID})
    name = fields.String(required=True, metadata={"example": "Work laptop"})
    device_type = fields.String(required=True, data_key="deviceType", metadata={
        "enum": ["single_device", "multi_device"],
        "description": "multi_device: a synced passkey (amr swk); single_device: bound to "
                       "its authenticator (amr hwk)"})
    backed_up = fields.Boolean(required=True, data_key="backedUp")
    created_at = IsoDateTime(required=True, data_key="createdAt")
    last_used_at = IsoDateTime(required=True, allow_none=True, data_key="lastUsedAt")


_PASSKEY_EXAMPLE = {"id": EXAMPLE_ID, "name": "Work laptop", "deviceType": "single_device",
                    "backedUp": False, "createdAt": EXAMPLE_TIME, "lastUsedAt": None}
_B64 = {"description": "base64url"}


class _RelyingPartySchema(Schema):
    name = fields.String(required=True)
    id = fields.String(required=True)


class _UserEntitySchema(Schema):
    id = fields.String(required=True, metadata={
        "description": "The user handle (base64url of the user id's 12 bytes)"})
    name = fields.String(required=True)
    displayName = fields.String(required=True)


class _CredentialParamSchema(Schema):
    type = fields.String(required=True)
    alg = fields.Integer(required=True, metadata={"description": "COSE algorithm"})


class _DescriptorSchema(Schema):
    id = fields.String(required=True, metadata=_B64)
    type = fields.String(required=True)
    transports = fields.List(fields.String())


class _SelectionSchema(Schema):
    authenticatorAttachment = fields.String()
    residentKey = fields.String()
    requireResidentKey = fields.Boolean()
    userVerification = fields.String()


class CreationOptionsSchema(Schema):
    """PublicKeyCredentialCreationOptionsJSON (WebAuthn L3 §5.4)."""

    rp = fields.Nested(_RelyingPartySchema, required=True)
    user = fields.Nested(_UserEntitySchema, required=True)
    challenge = fields.String(required=True, metadata=_B64)
    pubKeyCredParams = fields.List(fields.Nested(_CredentialParamSchema), required=True)
    timeout = fields.Integer(metadata={"description": "Milliseconds"})
    excludeCredentials = fields.List(fields.Nested(_DescriptorSchema), metadata={
        "description": "The user's passkeys: an authenticator holding one is not asked again"})
    authenticatorSelection = fields.Nested(_SelectionSchema)
    attestation = fields.String()
    hints = fields.List(fields.String())


class RequestOptionsSchema(Schema):
    """PublicKeyCredentialRequestOptionsJSON (WebAuthn L3 §5.5)."""

    challenge = fields.String(required=True, metadata=_B64)
    timeout = fields.Integer(metadata={"description": "Milliseconds"})
    rpId = fields.String()
    allowCredentials = fields.List(fields.Nested(_DescriptorSchema), metadata={
        "description": "Empty for passwordless: the authenticator offers what it holds"})
    userVerification = fields.String()
    hints = fields.List(fields.String())


_HOW = ("For navigator.credentials.{}({{publicKey}}) (byte fields base64url: "
        "PublicKeyCredential.parse{}OptionsFromJSON reads them)")
CreationOptionsResponseSchema = success_schema(
    "PasskeyCreationOptionsResponseSchema", {"public_key": fields.Nested(
        CreationOptionsSchema, required=True, data_key="publicKey",
        metadata={"description": _HOW.format("create", "Creation")})},
    example=success_body({"publicKey": {
        "rp": {"name": "Gatehouse", "id": "localhost"},
        "user": {"id": "ZmFrZS11c2VyLWlk", "name": "ada@example.com", "displayName": "Ada"},
        "challenge": "q3Yx0t7mN1c4r9Pz2fWk8bLh6sJd5gVa0eUo3iTy1uQ",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}], "timeout": 300000,
        "excludeCredentials": [], "authenticatorSelection": {
            "residentKey": "required", "requireResidentKey": True,
            "userVerification": "preferred"}, "attestation": "none"}}))
RequestOptionsResponseSchema = success_schema(
    "PasskeyRequestOptionsResponseSchema", {"public_key": fields.Nested(
        RequestOptionsSchema, required=True, data_key="publicKey",
        metadata={"description": _HOW.format("get", "Request")})},
    example=success_body({"publicKey": {
        "challenge": EXAMPLE_MFA_TOKEN, "timeout": 300000, "rpId": "localhost",
        "allowCredentials": [], "userVerification": "required"}}))
PasskeyResponseSchema = success_schema(
    "PasskeyResponseSchema", {"passkey": fields.Nested(PasskeySchema, required=True)},
    message="Passkey added", example=success_body({"passkey": _PASSKEY_EXAMPLE}, "Passkey added"))
PasskeyListResponseSchema = success_schema(
    "PasskeyListResponseSchema",
    {"passkeys": fields.List(fields.Nested(PasskeySchema), required=True)},
    example=success_body({"passkeys": [_PASSKEY_EXAMPLE]}))

"""Request and response shapes of the OAuth-style routes: introspection (RFC 7662), revocation
(RFC 7009) and the authorization server metadata (RFC 8414)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

TOKEN_TYPES = ["access_token", "refresh_token"]
EXAMPLE_ID = "65f0c2a9e4b0a1b2c3d4e5f6"
EXAMPLE_BASE = "https://auth.example.com"


class TokenFormSchema(Schema):
    """`token` and an optional `token_type_hint`, form-encoded (RFC 7662 2.1, RFC 7009 2.1)."""

    class Meta:
        unknown = RAISE

    token = fields.String(required=True, validate=validate.Length(min=1, max=8192),
                          metadata={"description": "An access token or a refresh token"})
    token_type_hint = fields.String(
        load_default=None, validate=validate.Length(max=64),
        metadata={"description": "`access_token` or `refresh_token`: which to look up "
                                 "first. Any other value is ignored, as is a wrong hint.",
                  "example": "access_token"})


class IntrospectionSchema(Schema):
    """RFC 7662 2.2: only `active` for anything but a live token."""

    active = fields.Boolean(required=True)
    sub = fields.String(metadata={"description": "The user id", "example": EXAMPLE_ID})
    sid = fields.String(metadata={"description": "The session id", "example": EXAMPLE_ID})
    exp = fields.Integer(metadata={"description": "Expiry, Unix seconds (a refresh token: "
                                                  "the session's current expiry)"})
    iat = fields.Integer(metadata={"description": "Issued at, Unix seconds"})
    iss = fields.String(metadata={"description": "jwt.issuer", "example": "gatehouse"})
    aud = fields.String(metadata={"description": "jwt.audience", "example": "gatehouse-api"})
    token_type = fields.String(metadata={"enum": TOKEN_TYPES})


INTROSPECTION_EXAMPLE = {"active": True, "sub": EXAMPLE_ID, "sid": "65f0c2a9e4b0a1b2c3d4e5f7",
                         "exp": 1767269700, "iat": 1767268800, "iss": "gatehouse",
                         "aud": "gatehouse-api", "token_type": "access_token"}


class MetadataSchema(Schema):
    """RFC 8414 2: only what Gatehouse does. No authorization or token endpoint, so the
    response and grant types are listed empty (RFC 8414's defaults would claim some)."""

    issuer = fields.String(required=True, metadata={"description": "jwt.issuer"})
    jwks_uri = fields.String(required=True, metadata={"format": "uri"})
    introspection_endpoint = fields.String(required=True, metadata={"format": "uri"})
    introspection_endpoint_auth_methods_supported = fields.List(fields.String(),
                                                                required=True)
    revocation_endpoint = fields.String(required=True, metadata={"format": "uri"})
    revocation_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    response_types_supported = fields.List(fields.String(), required=True)
    grant_types_supported = fields.List(fields.String(), required=True)


METADATA_EXAMPLE = {
    "issuer": EXAMPLE_BASE, "jwks_uri": f"{EXAMPLE_BASE}/.well-known/jwks.json",
        "introspection_endpoint": f"{EXAMPLE_BASE}/api/v1/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "revocation_endpoint": f"{EXAMPLE_BASE}/api/v1/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "response_types_supported": [], "grant_types_supported": []}

"""Response shape of GET /.well-known/jwks.json (RFC 7517 JWK Set of public keys)."""

from __future__ import annotations

from marshmallow import Schema, fields


class JwkSchema(Schema):
    kty = fields.String(required=True, metadata={"enum": ["OKP", "EC", "RSA"]})
    kid = fields.String(required=True, metadata={
        "description": "The key's RFC 7638 thumbprint; tokens name it in their `kid` header"})
    alg = fields.String(required=True, metadata={"enum": ["EdDSA", "ES256", "RS256"]})
    use = fields.String(required=True, metadata={"enum": ["sig"]})
    crv = fields.String(metadata={"enum": ["Ed25519", "P-256"], "description": "OKP and EC"})
    x = fields.String(metadata={"description": "OKP and EC public key (base64url)"})
    y = fields.String(metadata={"description": "EC public key (base64url)"})
    n = fields.String(metadata={"description": "RSA modulus (base64url)"})
    e = fields.String(metadata={"description": "RSA exponent (base64url)"})


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True)


JWKS_EXAMPLE = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "Nu3kq1...", "alg": "EdDSA",
                          "use": "sig", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
JWKS_DESCRIPTION = (
    "The public keys that verify Gatehouse access tokens, chosen by the token's `kid`: the "
    "signing key, a new key published `jwt.key_publish_ahead` before it signs, and retired "
    "keys until every token they signed has expired. A revoked key leaves the set at once. "
    "Empty with `jwt.algorithm: HS256` (a shared secret is never published). Cacheable "
    "(`Cache-Control: public, max-age=` `jwt.jwks_max_age`); refetch on an unknown `kid`.")

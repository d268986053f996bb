"""Forged access tokens over HTTP on every authenticated route (issue 15 item 1): `alg: none`,
algorithm confusion (HS256 keyed with our public key), unknown `kid`, a key the token names
or carries (`jku`, `jwk`, `x5u`), another algorithm: each is 401 `Invalid token`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import get_default_algorithms

from handlers.openapi.decorators import BEARER
from server.core.clock import utcnow
from server.core.config import Config
from server.signing import KEYRING
from server.signing.crypto import public_jwk
from server.web.routes import routes
from tests._app import bearer
from tests.handlers._auth import PASSWORD, db_of, register

OID = "5f0000000000000000000001"
# A body the route's validation accepts, so the request reaches authentication (validation
# runs first): every authenticated route must be listed here (checked below).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/auth/logout"): None,
    ("POST", "/api/v1/auth/logout-all"): None,
    ("GET", "/api/v1/auth/sessions"): None,
    ("DELETE", "/api/v1/auth/sessions/{id}"): None,
    ("POST", "/api/v1/auth/resend-verification"): None,
    ("GET", "/api/v1/users/me"): None,
    ("PATCH", "/api/v1/users/me"): {"firstName": "Eve"},
    ("DELETE", "/api/v1/users/me"): {"currentPassword": PASSWORD},
    ("POST", "/api/v1/users/me/password"): {"currentPassword": PASSWORD,
                                             "newPassword": "N3w!Passw0rd-ok"},
    ("GET", "/api/v1/users"): None,
    ("GET", "/api/v1/users/"): None,
    ("GET", "/api/v1/users/{id}"): None,
    ("PATCH", "/api/v1/users/{id}"): {"role": "admin"},
    ("DELETE", "/api/v1/users/{id}"): None,
    # Issue 16's signed-in second-factor routes.
    ("POST", "/api/v1/auth/mfa/totp/setup"): {},
    ("POST", "/api/v1/auth/mfa/totp/confirm"): {"code": "123456"},
    ("DELETE", "/api/v1/auth/mfa/totp"): {"currentPassword": PASSWORD, "code": "123456"},
    ("POST", "/api/v1/auth/mfa/recovery-codes/regenerate"): {},
    ("POST", "/api/v1/auth/reauth"): {"password": PASSWORD},
    ("POST", "/api/v1/auth/reauth/passkey/options"): {},
    ("DELETE", "/api/v1/users/{id}/mfa"): None,
    ("POST", "/api/v1/auth/mfa/passkeys/register/options"): {},
    ("POST", "/api/v1/auth/mfa/passkeys/register/verify"): {"credential": {}},
    ("GET", "/api/v1/auth/mfa/passkeys"): None,
    ("PATCH", "/api/v1/auth/mfa/passkeys/{id}"): {"name": "Laptop"},
    ("DELETE", "/api/v1/auth/mfa/passkeys/{id}"): None,
}


def authenticated_routes() -> list[tuple[str, str]]:
    found = []
    for route in routes():
        spec = getattr(route.handler, "__apispec__", {})
        if spec.get("security") == [{BEARER: []}]:
            found.append((route.method, route.path))
    return found


def test_every_authenticated_route_is_attacked() -> None:
    assert set(authenticated_routes()) == set(BODIES)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 JWT built by hand: PyJWT refuses an HMAC key that looks like a public key."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def raw_signed(header: dict[str, Any], claims: dict[str, Any], key: Any, alg: str) -> str:
    """A JWT signed by hand, for headers PyJWT will not write (a kid that is no string)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = get_default_algorithms()[alg].sign(signing_input.encode("ascii"), key)
    return f"{signing_input}.{b64(signature)}"


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


async def send(client: TestClient, method: str, path: str, token: str) -> tuple[int, str]:  # type: ignore[type-arg]
    body = BODIES[(method, path)]
    url = path.replace("{id}", OID)
    resp = await client.request(method, url, headers=bearer(token),
                                **({"json": body} if body is not None else {}))
    return resp.status, (await resp.json()).get("error", "")


Forge = Callable[[dict[str, Any], dict[str, Any], Any], str]


def attacks(alg: str) -> dict[str, Forge]:
    """name -> forge(claims, our public JWK, our signing key): each must be refused."""
    attacker = ed25519.Ed25519PrivateKey.generate()
    theirs = public_jwk(attacker, "EdDSA")
    ec_attacker = ec.generate_private_key(ec.SECP256R1())

    def ours(headers: dict[str, Any]) -> Forge:
        # Signed with OUR real key, but the header names a key source: refused outright.
        return lambda claims, jwk, key: jwt.encode(claims, key.key, algorithm=alg,
                                                   headers={"kid": jwk["kid"], **headers})

    def pem_of(jwk: dict[str, Any]) -> bytes:
        public = jwt.PyJWK(jwk, jwk["alg"]).key
        return public.public_bytes(serialization.Encoding.PEM,  # type: ignore[no-any-return]
                                   serialization.PublicFormat.SubjectPublicKeyInfo)

    return {
        "alg none": lambda c, jwk, k: unsigned({"alg": "none", "kid": jwk["kid"]}, c),
        "alg None": lambda c, jwk, k: unsigned({"alg": "None", "typ": "JWT"}, c),
        "HS256 keyed with our public PEM": lambda c, jwk, k: hand_signed(
            {"alg": "HS256", "kid": jwk["kid"]}, c, pem_of(jwk)),
        "HS256 keyed with our JWK JSON": lambda c, jwk, k: hand_signed(
            {"alg": "HS256", "kid": jwk["kid"]}, c, json.dumps(jwk).encode()),
        "HS256 keyed with our JWK x": lambda c, jwk, k: hand_signed(
            {"alg": "HS256", "kid": jwk["kid"]}, c, jwk.get("x", jwk.get("n", "")).encode()),
        "unknown kid, attacker key": lambda c, jwk, k: jwt.encode(
            c, attacker, algorithm="EdDSA", headers={"kid": theirs["kid"]}),
        "our kid, attacker key": lambda c, jwk, k: jwt.encode(
            c, attacker, algorithm="EdDSA", headers={"kid": jwk["kid"]}),
        "no kid": lambda c, jwk, k: jwt.encode(c, k.key, algorithm=alg),
        "kid not a string": lambda c, jwk, k: raw_signed(
            {"alg": alg, "kid": [jwk["kid"]]}, c, k.key, alg),
        "embedded jwk, attacker key": lambda c, jwk, k: jwt.encode(
            c, attacker, algorithm="EdDSA", headers={"kid": theirs["kid"], "jwk": theirs}),
        "jku to attacker set": lambda c, jwk, k: jwt.encode(
            c, attacker, algorithm="EdDSA",
            headers={"kid": theirs["kid"], "jku": "http://127.0.0.1:9/jwks.json"}),
        "ES256 with our kid": lambda c, jwk, k: jwt.encode(
            c, ec_attacker, algorithm="ES256", headers={"kid": jwk["kid"]}),
        "our key plus jku": ours({"jku": "http://127.0.0.1:9/jwks.json"}),
        "our key plus jwk": ours({"jwk": theirs}),
        "our key plus x5u": ours({"x5u": "http://127.0.0.1:9/cert.pem"}),
        "our key plus crit": ours({"crit": ["exp"]}),
    }


ATTACKS = list(attacks("EdDSA"))


async def genuine(client: TestClient) -> tuple[str, dict[str, Any], dict[str, Any], Any]:  # type: ignore[type-arg]
    """A registered user's real token, its claims, our published JWK and signing key."""
    token = (await register(client))["accessToken"]
    claims = jwt.decode(token, options={"verify_signature": False})
    ring = client.app[KEYRING]  # type: ignore[index]
    keys = await ring.current(db_of(client), utcnow())
    key = ring.signing_key(keys, utcnow())
    jwk = next(j for j in keys.jwks if j["kid"] == key.kid)
    return token, claims, jwk, key


class TestEveryRouteRefusesForgeries:
    @pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
    async def test_forged_tokens_are_401_everywhere(
            self, make_client: Any, make_config: Callable[..., Config], alg: str) -> None:
        client = await make_client(make_config(jwt={"algorithm": alg}))
        token, claims, jwk, key = await genuine(client)
        assert jwt.get_unverified_header(token) == {"alg": alg, "kid": jwk["kid"],
                                                    "typ": "JWT"}
        forged = {name: forge(claims, jwk, key) for name, forge in attacks(alg).items()}
        for method, path in BODIES:
            if (method, path) in {("POST", "/api/v1/auth/logout"),
                                  ("POST", "/api/v1/auth/logout-all"),
                                  ("DELETE", "/api/v1/users/me"),
                                  ("POST", "/api/v1/users/me/password")}:
                continue  # these end the session: the genuine token is sent to them last
            assert (await send(client, method, path, token))[0] != 401, (method, path)
        for name, bad in forged.items():
            for method, path in BODIES:
                assert await send(client, method, path, bad) == (401, "Invalid token"), \
                    (name, method, path)
        # Still the genuine user afterwards: the attacks changed nothing.
        assert (await send(client, "GET", "/api/v1/users/me", token))[0] == 200


class TestHs256Headers:
    """With jwt.algorithm HS256 (existing deployments) a token signed with the real secret
    is still refused when its header names a key source or another key."""

    @pytest.mark.parametrize("headers", [
        {"kid": "hs256-not-ours"}, {"jku": "http://127.0.0.1:9/jwks.json"},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}}, {"x5u": "http://127.0.0.1:9/c.pem"}])
    async def test_refused(self, client: TestClient, config: Config,  # type: ignore[type-arg]
                           headers: dict[str, Any]) -> None:
        token = (await register(client))["accessToken"]
        claims = jwt.decode(token, options={"verify_signature": False})
        bad = jwt.encode(claims, config.jwt.secret, algorithm="HS256", headers=headers)
        assert await send(client, "GET", "/api/v1/users/me", bad) == (401, "Invalid token")

    async def test_a_kid_that_is_no_string(self, client: TestClient,  # type: ignore[type-arg]
                                           config: Config) -> None:
        token = (await register(client))["accessToken"]
        claims = jwt.decode(token, options={"verify_signature": False})
        bad = hand_signed({"alg": "HS256", "kid": 7}, claims, config.jwt.secret.encode())
        assert await send(client, "GET", "/api/v1/users/me", bad) == (401, "Invalid token")

    async def test_tokens_carry_a_kid_and_old_ones_without_still_pass(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        token = (await register(client))["accessToken"]
        assert jwt.get_unverified_header(token)["kid"].startswith("hs256-")
        claims = jwt.decode(token, options={"verify_signature": False})
        legacy = jwt.encode(claims, config.jwt.secret, algorithm="HS256")
        assert (await send(client, "GET", "/api/v1/users/me", legacy))[0] == 200

"""A software WebAuthn authenticator (fido2's data classes, keys from `cryptography`) and the
HTTP steps of the passkey ceremonies, for tests/handlers/test_passkeys*.py.

It answers the options Gatehouse hands out exactly as a browser with a platform
authenticator would (PublicKeyCredential.toJSON(): byte fields base64url), and can be told
to lie: another origin or relying party, a counter of its choosing.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

from tests._app import bearer
from tests.handlers._auth import AUTH
from tests.handlers._mfa import Client

ORIGIN = "http://localhost:3000"  # config.yaml's webauthn.origins
RP_ID = "localhost"
PASSKEYS = f"{AUTH}/mfa/passkeys"
FLAG = AuthenticatorData.FLAG


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    counter: int = 0


@dataclass
class SoftAuthenticator:
    """Holds discoverable ES256 credentials; counts signatures (start at 0 to play an
    authenticator without a counter: `counting=False`)."""

    origin: str = ORIGIN
    rp_id: str = RP_ID
    counting: bool = True
    synced: bool = False  # backup eligible and backed up: a multi-device passkey
    credentials: list[Credential] = field(default_factory=list)

    def _flags(self, *extra: AuthenticatorData.FLAG) -> AuthenticatorData.FLAG:
        flags = FLAG.UP | FLAG.UV
        for flag in extra:
            flags |= flag
        return flags | (FLAG.BE | FLAG.BS) if self.synced else flags

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return bytes(CollectedClientData.create(kind, unb64url(challenge),
                                                origin or self.origin))

    def create(self, options: dict[str, Any], *, origin: str | None = None,
               rp_id: str | None = None) -> dict[str, Any]:
        """navigator.credentials.create({publicKey: options}).toJSON()"""
        key = ec.generate_private_key(ec.SECP256R1())
        cred = Credential(os.urandom(32), key, unb64url(options["user"]["id"]))
        self.credentials.append(cred)
        attested = AttestedCredentialData.create(b"\0" * 16, cred.id,
                                                 ES256.from_cryptography_key(key.public_key()))
        auth_data = AuthenticatorData.create(
            hashlib.sha256((rp_id or self.rp_id).encode()).digest(), self._flags(FLAG.AT), 0,
            bytes(attested))
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {"id": b64url(cred.id), "rawId": b64url(cred.id), "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data),
                             "attestationObject": b64url(bytes(AttestationObject.create(
                                 "none", auth_data, {})))},
                "clientExtensionResults": {}}

    def get(self, options: dict[str, Any], *, origin: str | None = None,
            rp_id: str | None = None, credential: Credential | None = None,
            counter: int | None = None) -> dict[str, Any]:
        """navigator.credentials.get({publicKey: options}).toJSON(); the first credential
        allowed (or any, for discoverable options) unless `credential` is given."""
        allowed = {unb64url(c["id"]) for c in options.get("allowCredentials") or ()}
        cred = credential or next(c for c in self.credentials if not allowed or c.id in allowed)
        if counter is None:
            cred.counter += 1 if self.counting else 0
            counter = cred.counter
        auth_data = bytes(AuthenticatorData.create(
            hashlib.sha256((rp_id or self.rp_id).encode()).digest(), self._flags(), counter))
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = cred.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return {"id": b64url(cred.id), "rawId": b64url(cred.id), "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data),
                             "authenticatorData": b64url(auth_data),
                             "signature": b64url(signature),
                             "userHandle": b64url(cred.user_handle)},
                "clientExtensionResults": {}}


async def post(client: Client, path: str, body: dict[str, Any],
               access: str | None = None) -> tuple[int, dict[str, Any]]:
    resp = await client.post(path, json=body, headers=bearer(access) if access else {})
    return resp.status, await resp.json()


async def register_options(client: Client, access: str) -> dict[str, Any]:
    status, body = await post(client, f"{PASSKEYS}/register/options", {}, access)
    assert status == 200, body
    return body["data"]["publicKey"]  # type: ignore[no-any-return]


async def add_passkey(client: Client, access: str, authenticator: SoftAuthenticator,
                      name: str = "Laptop") -> dict[str, Any]:
    """Register a passkey over HTTP; the stored passkey as answered."""
    answer = authenticator.create(await register_options(client, access))
    status, body = await post(client, f"{PASSKEYS}/register/verify",
                              {"credential": answer, "name": name}, access)
    assert status == 200, body
    return body["data"]["passkey"]  # type: ignore[no-any-return]


async def mfa_options(client: Client, token: str) -> tuple[int, dict[str, Any]]:
    return await post(client, f"{PASSKEYS}/authenticate/options", {"mfaToken": token})


async def passwordless_options(client: Client) -> dict[str, Any]:
    status, body = await post(client, f"{AUTH}/passkeys/options", {})
    assert status == 200, body
    return body["data"]["publicKey"]  # type: ignore[no-any-return]


async def passwordless(client: Client, answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    client.session.cookie_jar.clear()
    resp = await client.post(f"{AUTH}/passkeys/verify", json={"credential": answer})
    body = await resp.json()
    if resp.status == 200:
        body["refreshCookie"] = resp.cookies["refreshToken"].value
    return resp.status, body

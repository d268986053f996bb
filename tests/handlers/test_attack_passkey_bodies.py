"""Attack: a passkey answer whose clientDataJSON decodes to deeply nested JSON. The routes
that take an assertion or an attestation must refuse it like any other malformed answer
(401 INVALID_PASSKEY / 400 PASSKEY_REJECTED), never answer 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from server.core.config import Config
from tests._app import bearer
from tests.handlers._auth import AUTH, clocked_client, register
from tests.handlers._mfa import mfa_token
from tests.handlers._passkeys import (
    PASSKEYS,
    SoftAuthenticator,
    add_passkey,
    passwordless_options,
    register_options,
)

# 5000 levels: far below the body limit, far above Python's recursion limit in json.loads.
NESTED = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).rstrip(b"=").decode()


def nested(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "response": {**answer["response"], "clientDataJSON": NESTED}}


@pytest.fixture
async def ada(aiohttp_client: Any, config: Config) -> tuple[Any, str, SoftAuthenticator]:
    client, _ = await clocked_client(aiohttp_client, config)
    access = (await register(client))["accessToken"]
    authenticator = SoftAuthenticator()
    await add_passkey(client, access, authenticator)
    return client, access, authenticator


async def test_passwordless_verify_nested_client_data_is_not_500(
        ada: tuple[Any, str, SoftAuthenticator]) -> None:
    client, _, authenticator = ada
    answer = nested(authenticator.get(await passwordless_options(client)))
    resp = await client.post(f"{AUTH}/passkeys/verify", json={"credential": answer})
    assert resp.status == 401, await resp.text()


async def test_mfa_verify_nested_client_data_is_not_500(
        ada: tuple[Any, str, SoftAuthenticator]) -> None:
    client, _, authenticator = ada
    token = await mfa_token(client)
    resp = await client.post(f"{PASSKEYS}/authenticate/options", json={"mfaToken": token})
    answer = nested(authenticator.get((await resp.json())["data"]["publicKey"]))
    resp = await client.post(f"{AUTH}/mfa/verify", json={"mfaToken": token, "passkey": answer})
    assert resp.status == 401, await resp.text()


async def test_register_verify_nested_client_data_is_not_500(
        ada: tuple[Any, str, SoftAuthenticator]) -> None:
    client, access, _ = ada
    answer = nested(SoftAuthenticator().create(await register_options(client, access)))
    resp = await client.post(f"{PASSKEYS}/register/verify",
                             json={"credential": answer, "name": "x"}, headers=bearer(access))
    assert resp.status == 400, await resp.text()

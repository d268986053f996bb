"""Issue 16 item 3: a passkey challenge is used up by one conditional write, so of several
answers racing with it exactly one succeeds (an authenticator without a counter, so only
the challenge stands between them); a passkey counts as the factor that
security.mfa_required_roles asks for; and clearing a user's `mfa` subdocument (what an
admin reset of the factors does) clears the passkeys with it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.core.config import Config
from tests._app import Clock
from tests.handlers._auth import clocked_client, db_of, register
from tests.handlers._mfa import Client, start_login
from tests.handlers._passkeys import (
    PASSKEYS,
    SoftAuthenticator,
    add_passkey,
    passwordless,
    passwordless_options,
    post,
    register_options,
)
from tests.handlers._users import USERS, person_of

RACERS, TRIALS = 4, 3


@pytest.fixture
async def ada(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, str]:
    client, clock = await clocked_client(aiohttp_client, config)
    return client, clock, (await register(client))["accessToken"]


class TestRaces:
    async def test_one_passwordless_answer_raced_signs_in_once(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        authenticator = SoftAuthenticator(counting=False)  # counter 0: no second guard
        await add_passkey(client, access, authenticator)
        for _ in range(TRIALS):
            answer = authenticator.get(await passwordless_options(client))
            results = await asyncio.gather(*(passwordless(client, answer)
                                             for _ in range(RACERS)))
            assert sorted(status for status, _ in results) == [200] + [401] * (RACERS - 1)

    async def test_one_registration_answer_raced_adds_one_passkey(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        for trial in range(TRIALS):
            answer = SoftAuthenticator().create(await register_options(client, access))
            results = await asyncio.gather(*(
                post(client, f"{PASSKEYS}/register/verify", {"credential": answer}, access)
                for _ in range(RACERS)))
            assert sorted(status for status, _ in results) == [200] + [400] * (RACERS - 1)
            user = await db_of(client).users.find_one({})
            assert len(user["mfa"]["passkeys"]) == trial + 1


class TestFactorsCleared:
    async def test_unsetting_mfa_removes_the_passkeys(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        authenticator = SoftAuthenticator()
        await add_passkey(client, access, authenticator)
        await db_of(client).users.update_one({}, {"$unset": {"mfa": ""}})
        status, body, _ = await start_login(client)
        assert status == 200
        assert "accessToken" in body["data"]  # no second factor asked any more
        status, body = await passwordless(client, authenticator.get(
            await passwordless_options(client)))
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")


class TestRequiredRoles:
    @pytest.fixture
    def config(self, make_config: Any) -> Config:
        return make_config(security={"bcrypt_rounds": 4,  # type: ignore[no-any-return]
                                     "mfa_required_roles": ("admin",)})

    async def test_an_admin_enrols_with_a_passkey(self, aiohttp_client: Any,
                                                  config: Config) -> None:
        client, _ = await clocked_client(aiohttp_client, config)
        admin = await person_of(client, "admin")
        assert (await client.get(USERS, headers=admin.auth)).status == 403
        await add_passkey(client, admin.token, SoftAuthenticator())  # reachable to enrol
        assert (await client.get(USERS, headers=admin.auth)).status == 200

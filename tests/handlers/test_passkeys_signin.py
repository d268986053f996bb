"""Issue 16 item 3b/3c: signing in with a passkey over HTTP, against a software
authenticator: as the second factor after the password (amr pwd + hwk/swk), and
passwordless with a discoverable credential (the userHandle names the account). Refused:
a replayed or expired challenge, another origin or relying party, a counter that does not
increase, another user's credential, an inactive account."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.core.config import Config
from tests._app import Clock, bearer
from tests.handlers._auth import clocked_client, db_of, refresh, register
from tests.handlers._mfa import Client, claims, code_at, enrol, mfa_token, start_login, verify
from tests.handlers._passkeys import (
    SoftAuthenticator,
    add_passkey,
    b64url,
    mfa_options,
    passwordless,
    passwordless_options,
)

LATER = timedelta(minutes=6)


@pytest.fixture
async def ada(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, SoftAuthenticator]:
    """Ada with one passkey (no TOTP), signed out."""
    client, clock = await clocked_client(aiohttp_client, config)
    access = (await register(client))["accessToken"]
    authenticator = SoftAuthenticator()
    await add_passkey(client, access, authenticator)
    return client, clock, authenticator


async def second_step(client: Client, authenticator: SoftAuthenticator,
                      **lie: Any) -> tuple[int, dict[str, Any]]:
    token = await mfa_token(client)
    status, body = await mfa_options(client, token)
    assert status == 200, body
    answer = authenticator.get(body["data"]["publicKey"], **lie)
    return await verify(client, token, passkey=answer)  # type: ignore[arg-type]


class TestSecondFactor:
    async def test_login_lists_passkey_and_an_assertion_completes_it(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, authenticator = ada
        status, body, _cookies = await start_login(client)
        assert body["data"]["factors"] == ["passkey"]
        assert "accessToken" not in body["data"]
        token = body["data"]["mfaToken"]
        status, body = await mfa_options(client, token)
        options = body["data"]["publicKey"]
        assert [c["id"] for c in options["allowCredentials"]] == \
            [b64url(authenticator.credentials[0].id)]
        status, body = await verify(client, token, passkey=authenticator.get(options))
        assert status == 200, body
        assert claims(body["data"]["accessToken"])["amr"] == ["pwd", "hwk"]
        assert body["refreshCookie"]
        refreshed = await refresh(client, body["refreshCookie"])
        assert claims((await refreshed.json())["data"]["accessToken"])["amr"] == ["pwd", "hwk"]

    async def test_a_synced_passkey_is_swk(self, aiohttp_client: Any, config: Config) -> None:
        client, _ = await clocked_client(aiohttp_client, config)
        access = (await register(client))["accessToken"]
        authenticator = SoftAuthenticator(synced=True)
        added = await add_passkey(client, access, authenticator)
        assert added["deviceType"] == "multi_device"
        status, body = await second_step(client, authenticator)
        assert status == 200, body
        assert claims(body["data"]["accessToken"])["amr"] == ["pwd", "swk"]

    async def test_with_totp_too_every_factor_is_listed_and_a_code_still_works(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        access = (await register(client))["accessToken"]
        secret, _ = await enrol(client, access, clock)
        await add_passkey(client, access, SoftAuthenticator())
        _, body, _ = await start_login(client)
        assert body["data"]["factors"] == ["totp", "recovery_code", "passkey"]
        status, body = await verify(client, body["data"]["mfaToken"],
                                    code=code_at(secret, clock()))
        assert status == 200, body
        assert claims(body["data"]["accessToken"])["amr"] == ["pwd", "otp"]

    async def test_a_replayed_assertion_is_refused(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, authenticator = ada
        token = await mfa_token(client)
        options = (await mfa_options(client, token))[1]["data"]["publicKey"]
        answer = authenticator.get(options)
        assert (await verify(client, token, passkey=answer))[0] == 200  # type: ignore[arg-type]
        token = await mfa_token(client)
        await mfa_options(client, token)
        status, body = await verify(client, token, passkey=answer)  # type: ignore[arg-type]
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")

    @pytest.mark.parametrize("lie", [{"origin": "https://evil.example"},
                                     {"rp_id": "evil.example"}])
    async def test_another_origin_or_relying_party_is_refused(
            self, ada: tuple[Client, Clock, SoftAuthenticator], lie: dict[str, str]) -> None:
        client, _, authenticator = ada
        status, body = await second_step(client, authenticator, **lie)
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")

    async def test_a_counter_that_does_not_increase_is_refused(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, authenticator = ada
        assert (await second_step(client, authenticator, counter=5))[0] == 200
        for stale in (5, 3):
            status, body = await second_step(client, authenticator, counter=stale)
            assert (status, body["code"]) == (401, "INVALID_PASSKEY")
        assert (await second_step(client, authenticator, counter=6))[0] == 200

    async def test_an_authenticator_without_a_counter_is_accepted(
            self, aiohttp_client: Any, config: Config) -> None:
        client, _ = await clocked_client(aiohttp_client, config)
        access = (await register(client))["accessToken"]
        authenticator = SoftAuthenticator(counting=False)
        await add_passkey(client, access, authenticator)
        for _ in range(2):
            assert (await second_step(client, authenticator))[0] == 200

    async def test_another_users_passkey_is_refused(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, _ = ada
        bobs = SoftAuthenticator()
        bob = (await register(client, "bob@example.com"))["accessToken"]
        await add_passkey(client, bob, bobs)
        token = await mfa_token(client)
        options = (await mfa_options(client, token))[1]["data"]["publicKey"]
        status, body = await verify(client, token, passkey=bobs.get(
            options, credential=bobs.credentials[0]))  # type: ignore[arg-type]
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")

    async def test_wrong_assertions_count_toward_the_lockout(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, authenticator = ada
        for _ in range(5):
            status, _body = await second_step(client, authenticator, origin="https://x.test")
            assert status == 401
        status, body, _ = await start_login(client)
        assert status == 423, body

    async def test_options_need_a_live_mfa_token_of_a_passkey_user(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        access = (await register(client))["accessToken"]
        await enrol(client, access, clock)  # TOTP only
        status, body = await mfa_options(client, await mfa_token(client))
        assert (status, body["code"]) == (401, "INVALID_MFA_TOKEN")
        status, body = await mfa_options(client, "not-a-token")
        assert status == 401


class TestPasswordless:
    async def test_a_discoverable_passkey_signs_in_as_a_login_does(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, authenticator = ada
        options = await passwordless_options(client)
        assert options["allowCredentials"] == []
        assert options["userVerification"] == "required"
        status, body = await passwordless(client, authenticator.get(options))
        assert status == 200, body
        assert body["data"]["user"]["email"] == "ada@example.com"
        assert claims(body["data"]["accessToken"])["amr"] == ["hwk"]
        me = await client.get("/api/v1/users/me",
                              headers=bearer(body["data"]["accessToken"]))
        assert me.status == 200
        assert (await refresh(client, body["refreshCookie"])).status == 200

    async def test_a_replayed_answer_is_refused(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, authenticator = ada
        answer = authenticator.get(await passwordless_options(client))
        assert (await passwordless(client, answer))[0] == 200
        status, body = await passwordless(client, answer)
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")

    async def test_an_expired_challenge_is_refused(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, clock, authenticator = ada
        answer = authenticator.get(await passwordless_options(client))
        clock.advance(LATER)
        status, body = await passwordless(client, answer)
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")

    @pytest.mark.parametrize("lie", [{"origin": "http://localhost:3001"},
                                     {"rp_id": "127.0.0.1"}, {"counter": 0}])
    async def test_origin_relying_party_and_counter_are_checked(
            self, ada: tuple[Client, Clock, SoftAuthenticator], lie: dict[str, Any]) -> None:
        client, _, authenticator = ada
        assert (await passwordless(client, authenticator.get(
            await passwordless_options(client))))[0] == 200
        status, body = await passwordless(client, authenticator.get(
            await passwordless_options(client), **lie))
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")

    async def test_own_credential_under_another_users_handle_is_refused(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, authenticator = ada
        mallory = SoftAuthenticator()
        access = (await register(client, "mallory@example.com"))["accessToken"]
        await add_passkey(client, access, mallory)
        cred = mallory.credentials[0]
        cred.user_handle = authenticator.credentials[0].user_handle  # claims to be Ada
        status, body = await passwordless(client, mallory.get(
            await passwordless_options(client), credential=cred))
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")
        # ... and Ada's credential id with Mallory's key: the signature does not verify.
        cred.id = authenticator.credentials[0].id
        status, body = await passwordless(client, mallory.get(
            await passwordless_options(client), credential=cred))
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")

    async def test_an_inactive_account_is_refused(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, authenticator = ada
        await db_of(client).users.update_one({}, {"$set": {"isActive": False}})
        status, body = await passwordless(client, authenticator.get(
            await passwordless_options(client)))
        assert (status, body["code"]) == (403, "ACCOUNT_DEACTIVATED")

    async def test_garbage_is_401_not_500(
            self, ada: tuple[Client, Clock, SoftAuthenticator]) -> None:
        client, _, _ = ada
        for answer in ({}, {"response": {"clientDataJSON": "e30", "userHandle": "AAAA"}},
                       {"id": "x", "response": {"clientDataJSON": 5}}):
            status, body = await passwordless(client, answer)
            assert (status, body["code"]) == (401, "INVALID_PASSKEY"), body

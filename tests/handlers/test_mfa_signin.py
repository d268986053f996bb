"""Issue 16: signing in with a second factor over HTTP. The right password alone gives no
session, token or cookie; POST /auth/mfa/verify completes the sign-in with a TOTP code
(±1 step, once) or a recovery code (once, even when raced); wrong codes lock the account
exactly like wrong passwords, also under 20 concurrent attempts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from server.core.config import Config
from tests._app import Clock, bearer
from tests.handlers._auth import AUTH, clocked_client, db_of, refresh, register
from tests.handlers._mfa import (
    Client,
    claims,
    code_at,
    enrol,
    mfa_token,
    start_login,
    verify,
)

WRONG = "Wr0ng!Passw0rd"
ME = "/api/v1/users/me"


@pytest.fixture
async def enrolled(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, str, list[str]]:
    """Ada, with TOTP on: (client, clock, secret, recovery codes)."""
    client, clock = await clocked_client(aiohttp_client, config)
    access = (await register(client))["accessToken"]
    secret, codes = await enrol(client, access, clock)
    return client, clock, secret, codes


class TestPasswordAloneGivesNothing:
    async def test_login_answers_a_challenge_without_token_cookie_or_session(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, _, _, _ = enrolled
        before = (await db_of(client).users.find_one({}))["activeSessions"]
        status, body, cookies = await start_login(client)
        assert status == 200
        data = body["data"]
        assert data["mfaRequired"] is True
        assert data["factors"] == ["totp", "recovery_code"]
        assert "accessToken" not in data
        assert "user" not in data
        assert "refreshToken" not in cookies
        assert (await db_of(client).users.find_one({}))["activeSessions"] == before
        stored = await db_of(client).mfa_challenges.find_one({})
        assert stored["_id"] != data["mfaToken"]  # only its hash

    async def test_a_wrong_password_still_gets_401(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, _, _, _ = enrolled
        status, body, _ = await start_login(client, password=WRONG)
        assert (status, body["code"]) == (401, "INVALID_CREDENTIALS")

    async def test_an_account_without_a_factor_signs_in_as_before(
            self, aiohttp_client: Any, config: Config) -> None:
        client, _ = await clocked_client(aiohttp_client, config)
        await register(client)
        status, body, cookies = await start_login(client)
        assert status == 200
        assert "accessToken" in body["data"]
        assert "mfaRequired" not in body["data"]
        assert "refreshToken" in cookies


class TestTotpCodes:
    @pytest.mark.parametrize("shift", [-30, 0, 30])
    async def test_a_code_within_one_step_signs_in(
            self, enrolled: tuple[Client, Clock, str, list[str]], shift: int) -> None:
        client, clock, secret, _ = enrolled
        token = await mfa_token(client)
        status, body = await verify(client, token, code=code_at(secret, clock(), shift))
        assert status == 200, body
        assert body["message"] == "Login successful"
        assert body["data"]["user"]["email"] == "ada@example.com"
        assert body["refreshCookie"]
        me = await client.get(ME, headers=bearer(body["data"]["accessToken"]))
        assert me.status == 200

    @pytest.mark.parametrize("shift", [-90, -60, 60, 90])
    async def test_a_code_further_off_is_refused(
            self, enrolled: tuple[Client, Clock, str, list[str]], shift: int) -> None:
        client, clock, secret, _ = enrolled
        token = await mfa_token(client)
        status, body = await verify(client, token, code=code_at(secret, clock(), shift))
        assert (status, body["code"]) == (401, "INVALID_MFA_CODE")

    async def test_a_code_is_accepted_once(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        code = code_at(secret, clock())
        assert (await verify(client, await mfa_token(client), code=code))[0] == 200
        status, body = await verify(client, await mfa_token(client), code=code)
        assert (status, body["code"]) == (401, "INVALID_MFA_CODE")
        # Nor the previous step's code, still inside the drift window.
        status, _ = await verify(client, await mfa_token(client),
                                 code=code_at(secret, clock(), -30))
        assert status == 401

    async def test_a_wrong_code_leaves_the_challenge_usable(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        token = await mfa_token(client)
        assert (await verify(client, token, code=code_at(secret, clock(), 120)))[0] == 401
        assert (await verify(client, token, code=code_at(secret, clock())))[0] == 200


class TestMfaToken:
    async def test_a_token_works_once(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        token = await mfa_token(client)
        assert (await verify(client, token, code=code_at(secret, clock())))[0] == 200
        clock.advance(timedelta(seconds=30))
        status, body = await verify(client, token, code=code_at(secret, clock()))
        assert (status, body["code"]) == (401, "INVALID_MFA_TOKEN")

    async def test_a_token_expires_after_five_minutes(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        token = await mfa_token(client)
        clock.advance(timedelta(minutes=5, seconds=1))
        status, body = await verify(client, token, code=code_at(secret, clock()))
        assert (status, body["code"]) == (401, "INVALID_MFA_TOKEN")

    async def test_an_unknown_token_is_refused(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        status, body = await verify(client, "x" * 43, code=code_at(secret, clock()))
        assert (status, body["code"]) == (401, "INVALID_MFA_TOKEN")

    async def test_a_password_change_voids_a_waiting_token(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        token = await mfa_token(client)
        await db_of(client).users.update_one({}, {"$inc": {"credentialVersion": 1}})
        status, body = await verify(client, token, code=code_at(secret, clock()))
        assert (status, body["code"]) == (401, "INVALID_MFA_TOKEN")

    async def test_code_and_recovery_code_together_are_a_validation_error(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, codes = enrolled
        token = await mfa_token(client)
        for factor in ({"code": code_at(secret, clock()), "recoveryCode": codes[0]}, {}):
            resp = await client.post(f"{AUTH}/mfa/verify", json={"mfaToken": token, **factor})
            assert resp.status == 400


class TestRecoveryCodes:
    async def test_a_recovery_code_works_once(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, _, _, codes = enrolled
        status, body = await verify(client, await mfa_token(client),
                                    recoveryCode=codes[0].upper().replace("-", " "))
        assert status == 200, body
        me = await (await client.get(ME, headers=bearer(body["data"]["accessToken"]))).json()
        assert me["data"]["user"]["mfa"] == {"totp": True, "recoveryCodesLeft": 9, "passkeys": 0}
        status, body = await verify(client, await mfa_token(client), recoveryCode=codes[0])
        assert (status, body["code"]) == (401, "INVALID_MFA_CODE")

    @pytest.mark.parametrize("racers", [2, 4])
    async def test_concurrent_uses_of_one_code_exactly_one_succeeds(
            self, enrolled: tuple[Client, Clock, str, list[str]], racers: int) -> None:
        client, _, _, codes = enrolled
        for code in codes[:4]:  # bounded trials
            tokens = [await mfa_token(client) for _ in range(racers)]
            results = await asyncio.gather(*(
                client.post(f"{AUTH}/mfa/verify", json={"mfaToken": t, "recoveryCode": code})
                for t in tokens))
            assert sorted(r.status for r in results) == [200] + [401] * (racers - 1)
            # The losers' failures may settle after the winner's reset: start each trial at 0.
            await db_of(client).users.update_one({}, {"$set": {"loginAttempts": 0}})


class TestLockout:
    async def test_twenty_concurrent_wrong_codes_get_exactly_five_checks(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        token = await mfa_token(client)
        wrong = code_at(secret, clock(), 300)

        async def attempt() -> int:
            resp = await client.post(f"{AUTH}/mfa/verify",
                                     json={"mfaToken": token, "code": wrong})
            await resp.read()
            return resp.status

        assert sorted(await asyncio.gather(*(attempt() for _ in range(20)))) == \
            [401] * 5 + [423] * 15
        doc = await db_of(client).users.find_one({})
        assert doc["loginAttempts"] == 5
        assert doc["lockUntil"] is not None
        # The right code, and the right password, are refused while the lock runs.
        assert (await verify(client, token, code=code_at(secret, clock())))[0] == 423
        assert (await start_login(client))[0] == 423

    async def test_wrong_codes_and_wrong_passwords_share_one_count(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        for _ in range(3):
            assert (await start_login(client, password=WRONG))[0] == 401
        # The right password does not clear the count: only a completed sign-in does.
        token = await mfa_token(client)
        assert (await verify(client, token, code=code_at(secret, clock(), 300)))[0] == 401
        assert (await verify(client, token, code=code_at(secret, clock(), 330)))[0] == 401
        assert (await start_login(client))[0] == 423

    async def test_a_completed_sign_in_clears_the_count(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        token = await mfa_token(client)
        assert (await verify(client, token, code=code_at(secret, clock(), 300)))[0] == 401
        assert (await verify(client, token, code=code_at(secret, clock())))[0] == 200
        assert (await db_of(client).users.find_one({}))["loginAttempts"] == 0


class TestClaims:
    async def test_a_password_sign_in_says_pwd_and_when(
            self, aiohttp_client: Any, config: Config) -> None:
        client, _ = await clocked_client(aiohttp_client, config)
        await register(client)
        status, body, _ = await start_login(client)
        assert status == 200
        found = claims(body["data"]["accessToken"])
        assert found["amr"] == ["pwd"]
        assert found["auth_time"] == found["iat"]

    async def test_a_second_factor_sign_in_says_otp_and_refresh_keeps_it(
            self, enrolled: tuple[Client, Clock, str, list[str]]) -> None:
        client, clock, secret, _ = enrolled
        status, body = await verify(client, await mfa_token(client),
                                    code=code_at(secret, clock()))
        assert status == 200
        signed = claims(body["data"]["accessToken"])
        assert signed["amr"] == ["pwd", "otp"]
        assert signed["auth_time"] == signed["iat"]
        clock.advance(timedelta(minutes=20))
        resp = await refresh(client, body["refreshCookie"])
        refreshed = claims((await resp.json())["data"]["accessToken"])
        assert refreshed["amr"] == ["pwd", "otp"]
        assert refreshed["auth_time"] == signed["auth_time"]
        assert refreshed["iat"] == signed["iat"] + 20 * 60

    async def test_a_registered_session_refreshes_with_its_start_as_auth_time(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        first = claims((registered := await register(client))["accessToken"])
        clock.advance(timedelta(minutes=20))
        resp = await refresh(client, registered["refreshToken"])
        refreshed = claims((await resp.json())["data"]["accessToken"])
        assert refreshed["amr"] == ["pwd"]
        # A password session's start is read from its id, an ObjectId stamped by the server's
        # own clock (this test moves only the app's): whole seconds, so within a second or two.
        assert abs(refreshed["auth_time"] - first["auth_time"]) <= 2


class TestConfirmingCode:
    async def test_the_code_that_confirmed_enrolment_cannot_sign_in(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        access = (await register(client))["accessToken"]
        resp = await client.post(f"{AUTH}/mfa/totp/setup", headers=bearer(access), json={})
        secret = (await resp.json())["data"]["secret"]
        code = code_at(secret, clock())
        resp = await client.post(f"{AUTH}/mfa/totp/confirm", headers=bearer(access),
                                 json={"code": code})
        assert resp.status == 200
        status, body = await verify(client, await mfa_token(client), code=code)
        assert (status, body["code"]) == (401, "INVALID_MFA_CODE")

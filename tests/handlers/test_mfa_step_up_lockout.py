"""Step-up guesses count toward the login lockout (issue 16 item 5, hardening): a stolen
access token whose sign-in is old must not buy unlimited guesses of a TOTP code (on the
user's own sensitive routes, which check the code before the password) nor of an admin's
password (on the admin routes): wrong ones are failed attempts, exact under concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from server.core.config import Config
from tests._app import bearer
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, clocked_client, register
from tests.handlers._mfa import code_at, enrol, mfa_token, start_login, verify
from tests.handlers._users import USERS, person_of

LATER = timedelta(minutes=6)  # past the 5-minute window, inside the 15-minute access token
WRONG = "Wr0ng!Passw0rd"
REAL_COST = {"bcrypt_rounds": 12}  # races run at the real cost


class TestOwnRoutesCodeGuesses:
    async def test_twenty_concurrent_wrong_codes_get_exactly_five_checks(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        secret, _ = await enrol(client, (await register(client))["accessToken"], clock)
        status, body = await verify(client, await mfa_token(client),
                                    code=code_at(secret, clock()))
        assert status == 200
        access = body["data"]["accessToken"]
        clock.advance(LATER)
        wrong = code_at(secret, clock(), 300)

        async def guess() -> int:
            resp = await client.post(f"{USERS}/me/password", headers=bearer(access), json={
                "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "code": wrong})
            return resp.status

        assert sorted(await asyncio.gather(*(guess() for _ in range(20)))) == \
            [400] * 5 + [423] * 15
        assert (await start_login(client))[0] == 423  # the account is locked for sign-in too


class TestAdminPasswordGuesses:
    async def test_twenty_concurrent_wrong_passwords_get_exactly_five_checks(
            self, aiohttp_client: Any, make_config: Any) -> None:
        client, clock = await clocked_client(aiohttp_client, make_config(security=REAL_COST))
        admin, target = await person_of(client, "admin"), await person_of(client)
        clock.advance(LATER)

        async def guess() -> int:
            resp = await client.patch(f"{USERS}/{target.id}", headers=admin.auth,
                                      json={"role": "admin", "currentPassword": WRONG})
            return resp.status

        assert sorted(await asyncio.gather(*(guess() for _ in range(20)))) == \
            [400] * 5 + [423] * 15
        resp = await client.post(f"{AUTH}/login",
                                 json={"email": admin.email, "password": PASSWORD})
        assert resp.status == 423

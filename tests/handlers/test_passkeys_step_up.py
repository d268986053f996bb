"""Issue 16 item 5 with passkeys: a passkey is a second factor for step-up. An account whose
only factor is a passkey must, long after its sign-in, present a passkey assertion (to a
challenge from POST /auth/reauth/passkey/options: single use, bound to the user and the
session) beside its password, or re-authenticate with POST /auth/reauth {password, passkey};
its password alone is no longer enough. The same for an admin with only a passkey."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from server.core.config import Config
from tests._app import Clock, bearer
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, clocked_client, db_of, register
from tests.handlers._mfa import Client, claims, mfa_token, verify
from tests.handlers._passkeys import PASSKEYS, SoftAuthenticator, add_passkey, mfa_options, post
from tests.handlers._users import USERS, person_of

LATER = timedelta(minutes=6)  # past the 5-minute window, inside the 15-minute access token
OPTIONS = f"{AUTH}/reauth/passkey/options"
# The user's own sensitive changes, each with a body that passes its own checks.
SENSITIVE: dict[str, tuple[str, str, dict[str, Any]]] = {
    "password change": ("POST", f"{USERS}/me/password",
                        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
    "email change": ("PATCH", f"{USERS}/me",
                     {"email": "ada.new@example.com", "currentPassword": PASSWORD}),
    "account deletion": ("DELETE", f"{USERS}/me", {"currentPassword": PASSWORD}),
    "factor removal": ("DELETE", f"{PASSKEYS}/{{id}}", {"currentPassword": PASSWORD}),
}


class Ada:
    """Signed in (a password session), with one passkey and no TOTP."""

    def __init__(self, client: Client, clock: Clock, access: str,
                 keys: SoftAuthenticator, passkey_id: str) -> None:
        self.client, self.clock, self.access = client, clock, access
        self.keys, self.passkey_id = keys, passkey_id


@pytest.fixture
async def ada(aiohttp_client: Any, config: Config) -> Ada:
    client, clock = await clocked_client(aiohttp_client, config)
    access = (await register(client))["accessToken"]
    keys = SoftAuthenticator()
    added = await add_passkey(client, access, keys)
    return Ada(client, clock, access, keys, added["id"])


async def options_for(who: Ada, access: str | None = None) -> dict[str, Any]:
    """Reauth request options handed to `access` (Ada's)."""
    status, body = await post(who.client, OPTIONS, {}, access or who.access)
    assert status == 200, body
    return body["data"]["publicKey"]  # type: ignore[no-any-return]


async def assertion(who: Ada, access: str | None = None,
                    keys: SoftAuthenticator | None = None, **lie: Any) -> dict[str, Any]:
    """An assertion by `keys` (Ada's) to a reauth challenge handed to `access` (Ada's)."""
    keys = keys or who.keys
    return keys.get(await options_for(who, access), credential=keys.credentials[0], **lie)


async def call(who: Ada, route: str, access: str | None = None,
               **extra: Any) -> tuple[int, str]:
    method, path, body = SENSITIVE[route]
    resp = await who.client.request(method, path.replace("{id}", who.passkey_id),
                                    headers=bearer(access or who.access),
                                    json={**body, **extra})
    return resp.status, (await resp.json()).get("code", "")


async def reauth(who: Ada, access: str | None = None, **body: Any) -> tuple[int, dict[str, Any]]:
    return await post(who.client, f"{AUTH}/reauth", {"password": PASSWORD, **body},
                      access or who.access)


@pytest.mark.parametrize("route", list(SENSITIVE))
class TestSensitiveRoutes:
    async def test_allowed_right_after_sign_in(self, ada: Ada, route: str) -> None:
        assert (await call(ada, route))[0] == 200

    async def test_refused_late_without_an_assertion(self, ada: Ada, route: str) -> None:
        ada.clock.advance(LATER)
        assert await call(ada, route) == (401, "REAUTH_REQUIRED")

    async def test_a_code_is_no_way_around_it(self, ada: Ada, route: str) -> None:
        ada.clock.advance(LATER)
        assert await call(ada, route, code="123456") == (400, "MFA_CODE_INCORRECT")

    async def test_allowed_late_with_a_fresh_assertion(self, ada: Ada, route: str) -> None:
        ada.clock.advance(LATER)
        assert (await call(ada, route, passkey=await assertion(ada)))[0] == 200

    async def test_allowed_late_after_reauth_with_a_passkey(self, ada: Ada, route: str) -> None:
        ada.clock.advance(LATER)
        status, body = await reauth(ada, passkey=await assertion(ada))
        assert status == 200, body
        fresh = claims(body["data"]["accessToken"])
        assert (fresh["amr"], fresh["auth_time"]) == (["pwd", "hwk"], fresh["iat"])
        assert (await call(ada, route))[0] == 200  # the older token passes too


class TestReauthAttacks:
    async def test_the_password_alone_does_not_reauth(self, ada: Ada) -> None:
        ada.clock.advance(LATER)
        status, body = await reauth(ada)
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")
        assert await call(ada, "password change") == (401, "REAUTH_REQUIRED")

    async def test_a_replayed_assertion_is_refused(self, ada: Ada) -> None:
        ada.clock.advance(LATER)
        answer = await assertion(ada)
        assert (await reauth(ada, passkey=answer))[0] == 200
        status, body = await reauth(ada, passkey=answer)
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")
        assert await call(ada, "account deletion", passkey=answer) == \
            (400, "PASSKEY_REJECTED")

    async def test_of_two_racing_replays_exactly_one_reauths(self, ada: Ada) -> None:
        ada.clock.advance(LATER)
        answer = await assertion(ada)
        results = await asyncio.gather(*(reauth(ada, passkey=answer) for _ in range(2)))
        assert sorted(status for status, _ in results) == [200, 401]

    async def test_another_users_challenge_is_refused(self, ada: Ada) -> None:
        mallory = (await register(ada.client, "mallory@example.com"))["accessToken"]
        mallory_keys = SoftAuthenticator()
        await add_passkey(ada.client, mallory, mallory_keys)
        ada.clock.advance(LATER)
        # Ada's passkey signs Mallory's challenge; Mallory's passkey signs Ada's.
        ada_on_theirs = await assertion(ada, mallory)
        for answer in (ada_on_theirs, await assertion(ada, keys=mallory_keys)):
            status, body = await reauth(ada, passkey=answer)
            assert (status, body["code"]) == (401, "INVALID_PASSKEY")
            assert await call(ada, "password change", passkey=answer) == \
                (400, "PASSKEY_REJECTED")

    async def test_another_sessions_challenge_is_refused(self, ada: Ada) -> None:
        token = await mfa_token(ada.client)
        _, options = await mfa_options(ada.client, token)
        status, body = await verify(ada.client, token,
                                    passkey=ada.keys.get(options["data"]["publicKey"]))
        assert status == 200, body
        other = body["data"]["accessToken"]
        ada.clock.advance(LATER)
        status, body = await reauth(ada, passkey=await assertion(ada, other))
        assert (status, body["code"]) == (401, "INVALID_PASSKEY")

    async def test_refused_assertions_count_toward_the_lockout(self, ada: Ada) -> None:
        ada.clock.advance(LATER)
        statuses = []
        for _ in range(6):
            answer = await assertion(ada, origin="https://evil.example")
            statuses.append((await reauth(ada, passkey=answer))[0])
        assert statuses == [401] * 5 + [423]

    async def test_options_need_a_passkey(self, aiohttp_client: Any, config: Config) -> None:
        client, _ = await clocked_client(aiohttp_client, config)
        access = (await register(client))["accessToken"]
        status, body = await post(client, OPTIONS, {}, access)
        assert (status, body["code"]) == (404, "PASSKEY_NOT_FOUND")


ADMIN_ACTIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "role change": ("PATCH", "", {"role": "moderator"}),
    "deactivation": ("PATCH", "", {"isActive": False}),
    "deletion": ("DELETE", "", {}),
    "factor reset": ("DELETE", "/mfa", {}),
}


@pytest.mark.parametrize("action", list(ADMIN_ACTIONS))
class TestAdminWithOnlyAPasskey:
    async def test_late_password_alone_is_not_enough_an_assertion_is(
            self, ada: Ada, action: str) -> None:
        admin = await person_of(ada.client, "admin")
        keys = SoftAuthenticator()
        await add_passkey(ada.client, admin.token, keys)
        target = await person_of(ada.client)
        method, suffix, body = ADMIN_ACTIONS[action]

        async def act(**extra: Any) -> tuple[int, str]:
            resp = await ada.client.request(method, f"{USERS}/{target.id}{suffix}",
                                            headers=admin.auth, json={**body, **extra})
            return resp.status, (await resp.json()).get("code", "")

        ada.clock.advance(LATER)
        assert await act(currentPassword=PASSWORD) == (401, "REAUTH_REQUIRED")
        assert await act(currentPassword=PASSWORD, code="123456") == \
            (400, "MFA_CODE_INCORRECT")
        doc = await db_of(ada.client).users.find_one({"email": target.email})
        assert doc is not None
        assert (doc["role"], doc["isActive"]) == ("user", True)
        assert (await act(currentPassword=PASSWORD,
                          passkey=await assertion(ada, admin.token, keys)))[0] == 200

    async def test_late_after_reauth_with_a_passkey(self, ada: Ada, action: str) -> None:
        admin = await person_of(ada.client, "admin")
        keys = SoftAuthenticator()
        await add_passkey(ada.client, admin.token, keys)
        target = await person_of(ada.client)
        method, suffix, body = ADMIN_ACTIONS[action]
        ada.clock.advance(LATER)
        status, answer = await post(ada.client, f"{AUTH}/reauth", {
            "password": PASSWORD, "passkey": await assertion(ada, admin.token, keys)},
            admin.token)
        assert status == 200, answer
        resp = await ada.client.request(method, f"{USERS}/{target.id}{suffix}",
                                        headers=admin.auth, json=body)
        assert resp.status == 200

"""Issue 16 item 5 (step-up): for an account with a second factor, changing the password or
the email and deleting the account need a sign-in within security.reauth_window (5 min), a
current code in the request, or POST /auth/reauth; otherwise 401 REAUTH_REQUIRED. Removing
the factor always takes the password and a code. Accounts without a factor are unchanged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.core.config import Config
from tests._app import Clock, bearer
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, clocked_client, register
from tests.handlers._mfa import Client, claims, code_at, enrol, mfa_token, verify

WRONG = "Wr0ng!Passw0rd"
LATER = timedelta(minutes=6)  # past the 5-minute window, inside the 15-minute access token
# The sensitive routes, each with a body that passes their own checks.
SENSITIVE: dict[str, tuple[str, str, dict[str, Any]]] = {
    "password change": ("POST", "/api/v1/users/me/password",
                        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
    "email change": ("PATCH", "/api/v1/users/me",
                     {"email": "ada.new@example.com", "currentPassword": PASSWORD}),
    "account deletion": ("DELETE", "/api/v1/users/me", {"currentPassword": PASSWORD}),
}


@pytest.fixture
async def signed_in(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, str, str]:
    """Ada with TOTP, signed in with password and code just now: (client, clock, secret,
    access token)."""
    client, clock = await clocked_client(aiohttp_client, config)
    secret, _ = await enrol(client, (await register(client))["accessToken"], clock)
    status, body = await verify(client, await mfa_token(client), code=code_at(secret, clock()))
    assert status == 200
    return client, clock, secret, body["data"]["accessToken"]


async def call(client: Client, route: str, access: str, **extra: str) -> tuple[int, str]:
    method, path, body = SENSITIVE[route]
    resp = await client.request(method, path, headers=bearer(access), json={**body, **extra})
    return resp.status, (await resp.json()).get("code", "")


@pytest.mark.parametrize("route", list(SENSITIVE))
class TestSensitiveRoutes:
    async def test_allowed_right_after_sign_in(
            self, signed_in: tuple[Client, Clock, str, str], route: str) -> None:
        client, _, _, access = signed_in
        assert (await call(client, route, access))[0] == 200

    async def test_refused_once_the_sign_in_is_old(
            self, signed_in: tuple[Client, Clock, str, str], route: str) -> None:
        client, clock, _, access = signed_in
        clock.advance(LATER)
        assert await call(client, route, access) == (401, "REAUTH_REQUIRED")

    async def test_allowed_with_a_current_code(
            self, signed_in: tuple[Client, Clock, str, str], route: str) -> None:
        client, clock, secret, access = signed_in
        clock.advance(LATER)
        assert await call(client, route, access, code=code_at(secret, clock(), 300)) == \
            (400, "MFA_CODE_INCORRECT")
        assert (await call(client, route, access, code=code_at(secret, clock())))[0] == 200

    async def test_allowed_after_reauth(
            self, signed_in: tuple[Client, Clock, str, str], route: str) -> None:
        client, clock, secret, access = signed_in
        clock.advance(LATER)
        resp = await client.post(f"{AUTH}/reauth", headers=bearer(access), json={
            "password": PASSWORD, "code": code_at(secret, clock())})
        assert resp.status == 200
        fresh = (await resp.json())["data"]["accessToken"]
        assert claims(fresh)["auth_time"] == claims(fresh)["iat"]
        assert claims(fresh)["amr"] == ["pwd", "otp"]
        # The session's auth_time moved: even the older access token now passes.
        assert (await call(client, route, access))[0] == 200


class TestReauth:
    async def test_reauth_needs_the_code_when_a_factor_exists(
            self, signed_in: tuple[Client, Clock, str, str]) -> None:
        client, _, _, access = signed_in
        resp = await client.post(f"{AUTH}/reauth", headers=bearer(access),
                                 json={"password": PASSWORD})
        assert (resp.status, (await resp.json())["code"]) == (401, "INVALID_MFA_CODE")

    async def test_wrong_reauth_passwords_lock_the_account(
            self, signed_in: tuple[Client, Clock, str, str]) -> None:
        client, _, _, access = signed_in
        statuses = []
        for _ in range(6):
            resp = await client.post(f"{AUTH}/reauth", headers=bearer(access),
                                     json={"password": WRONG})
            statuses.append(resp.status)
        assert statuses == [401] * 5 + [423]


class TestWithoutAFactor:
    async def test_the_password_alone_still_suffices(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        access = (await register(client))["accessToken"]
        clock.advance(LATER)
        assert (await call(client, "password change", access))[0] == 200

"""Attack: a stolen access token (an account without a second factor, or one still inside
security.reauth_window) guessing the current password on the signed-in routes that take it.
Those guesses must count toward the login lockout as a login's do: five wrong, then 423,
and the owner's own login is locked too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from tests._app import bearer
from tests.handlers._auth import AUTH, PASSWORD, register
from tests.handlers._users import USERS

Client = TestClient  # type: ignore[type-arg]
WRONG = "Wr0ng!Guess-1"

Guess = Callable[[Client, str], Awaitable[int]]


async def _password_change(client: Client, token: str) -> int:
    resp = await client.post(f"{USERS}/me/password", headers=bearer(token),
                             json={"currentPassword": WRONG, "newPassword": "N3w!Passw0rd-ok"})
    return resp.status


async def _deactivation(client: Client, token: str) -> int:
    resp = await client.delete(f"{USERS}/me", headers=bearer(token),
                               json={"currentPassword": WRONG})
    return resp.status


async def _email_change(client: Client, token: str) -> int:
    resp = await client.patch(f"{USERS}/me", headers=bearer(token),
                              json={"email": "new@example.com", "currentPassword": WRONG})
    return resp.status


@pytest.mark.parametrize("guess", [_password_change, _deactivation, _email_change],
                         ids=["password change", "deactivation", "email change"])
async def test_current_password_guesses_count_toward_the_lockout(
        client: Client, guess: Guess) -> None:
    token = (await register(client))["accessToken"]
    statuses = [await guess(client, token) for _ in range(7)]
    assert statuses == [400] * 5 + [423] * 2, statuses
    login = await client.post(f"{AUTH}/login", json={"email": "ada@example.com",
                                                     "password": PASSWORD})
    assert login.status == 423


async def test_a_right_current_password_still_works_and_clears_nothing_early(
        client: Client) -> None:
    token = (await register(client))["accessToken"]
    assert [await _deactivation(client, token) for _ in range(2)] == [400, 400]
    resp = await client.post(f"{USERS}/me/password", headers=bearer(token),
                             json={"currentPassword": PASSWORD,
                                   "newPassword": "N3w!Passw0rd-ok"})
    assert resp.status == 200, await resp.text()



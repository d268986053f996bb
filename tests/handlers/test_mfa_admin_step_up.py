"""Issue 16 item 5, admin side: every admin change of a role or of another user's status
(PATCH /users/{id} with role, isActive or email; DELETE /users/{id}; DELETE /users/{id}/mfa)
needs a recent authentication (auth_time within security.reauth_window), or
`currentPassword` (+ a `code` when the admin has a factor); otherwise 401 REAUTH_REQUIRED.
For every admin, not only those with a factor: a stolen admin access token alone must not
be able to promote, lock out or delete anyone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId

from server.core.config import Config
from tests._app import Clock
from tests.handlers._auth import AUTH, PASSWORD, clocked_client, db_of
from tests.handlers._mfa import Client, code_at, enrol
from tests.handlers._users import USERS, Person, person_of

WRONG = "Wr0ng!Passw0rd"
LATER = timedelta(minutes=6)  # past the 5-minute window, inside the 15-minute access token
# The admin changes that need a step-up, each as (method, path suffix, body).
ACTIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "role change": ("PATCH", "", {"role": "moderator"}),
    "deactivation": ("PATCH", "", {"isActive": False}),
    "email change": ("PATCH", "", {"email": "moved@example.com"}),
    "deletion": ("DELETE", "", {}),
    "factor reset": ("DELETE", "/mfa", {}),
}


@pytest.fixture
async def scene(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, Person, Person]:
    """(client, clock, an admin signed in just now, a plain target user)."""
    client, clock = await clocked_client(aiohttp_client, config)
    return client, clock, await person_of(client, "admin"), await person_of(client)


async def act(client: Client, action: str, admin: Person, target: Person,
              **extra: str) -> tuple[int, str]:
    method, suffix, body = ACTIONS[action]
    resp = await client.request(method, f"{USERS}/{target.id}{suffix}", headers=admin.auth,
                                json={**body, **extra})
    answer = await resp.json()
    return resp.status, answer.get("code", "") if resp.status != 200 else ""


async def unchanged(client: Client, target: Person) -> bool:
    doc = await db_of(client).users.find_one({"_id": ObjectId(target.id)})
    return doc is not None and (doc["role"], doc["isActive"], doc["email"]) == (
        "user", True, target.email) and bool(doc["activeSessions"])


@pytest.mark.parametrize("action", list(ACTIONS))
class TestAdminWithoutAFactor:
    async def test_allowed_right_after_sign_in(
            self, scene: tuple[Client, Clock, Person, Person], action: str) -> None:
        client, _, admin, target = scene
        assert await act(client, action, admin, target) == (200, "")

    async def test_refused_once_the_sign_in_is_old(
            self, scene: tuple[Client, Clock, Person, Person], action: str) -> None:
        client, clock, admin, target = scene
        clock.advance(LATER)
        assert await act(client, action, admin, target) == (401, "REAUTH_REQUIRED")
        assert await unchanged(client, target)

    async def test_allowed_late_with_the_current_password(
            self, scene: tuple[Client, Clock, Person, Person], action: str) -> None:
        client, clock, admin, target = scene
        clock.advance(LATER)
        assert await act(client, action, admin, target, currentPassword=WRONG) == \
            (400, "CURRENT_PASSWORD_INCORRECT")
        assert await unchanged(client, target)
        assert await act(client, action, admin, target, currentPassword=PASSWORD) == (200, "")

    async def test_allowed_late_after_reauth(
            self, scene: tuple[Client, Clock, Person, Person], action: str) -> None:
        client, clock, admin, target = scene
        clock.advance(LATER)
        resp = await client.post(f"{AUTH}/reauth", headers=admin.auth,
                                 json={"password": PASSWORD})
        assert resp.status == 200
        assert await act(client, action, admin, target) == (200, "")


@pytest.mark.parametrize("action", list(ACTIONS))
class TestAdminWithAFactor:
    async def test_late_password_alone_is_not_enough_a_code_is(
            self, scene: tuple[Client, Clock, Person, Person], action: str) -> None:
        client, clock, admin, target = scene
        secret, _ = await enrol(client, admin.token, clock)
        clock.advance(LATER)
        assert await act(client, action, admin, target, currentPassword=PASSWORD) == \
            (401, "REAUTH_REQUIRED")
        assert await act(client, action, admin, target, currentPassword=PASSWORD,
                         code=code_at(secret, clock(), 300)) == (400, "MFA_CODE_INCORRECT")
        assert await unchanged(client, target)
        assert await act(client, action, admin, target, currentPassword=PASSWORD,
                         code=code_at(secret, clock())) == (200, "")


    async def test_late_after_reauth_with_password_and_code(
            self, scene: tuple[Client, Clock, Person, Person], action: str) -> None:
        client, clock, admin, target = scene
        secret, _ = await enrol(client, admin.token, clock)
        clock.advance(LATER)
        resp = await client.post(f"{AUTH}/reauth", headers=admin.auth,
                                 json={"password": PASSWORD, "code": code_at(secret, clock())})
        assert resp.status == 200
        assert await act(client, action, admin, target) == (200, "")


class TestWhatNeedsNoStepUp:
    async def test_a_late_profile_change_of_another_user(
            self, scene: tuple[Client, Clock, Person, Person]) -> None:
        client, clock, admin, target = scene
        clock.advance(LATER)
        resp = await client.patch(f"{USERS}/{target.id}", headers=admin.auth,
                                  json={"lastName": "Byron"})
        assert resp.status == 200

    async def test_the_proof_is_never_stored(
            self, scene: tuple[Client, Clock, Person, Person]) -> None:
        client, clock, admin, target = scene
        clock.advance(LATER)
        assert await act(client, "role change", admin, target, currentPassword=PASSWORD,
                         code="123456") == (200, "")
        doc = await db_of(client).users.find_one({"_id": ObjectId(target.id)})
        assert doc["role"] == "moderator"
        assert "currentPassword" not in doc
        assert "code" not in doc


class TestGuessingTheCurrentPassword:
    async def test_wrong_current_passwords_lock_the_admin(
            self, scene: tuple[Client, Clock, Person, Person]) -> None:
        client, clock, admin, target = scene
        clock.advance(LATER)
        statuses = [(await act(client, "role change", admin, target,
                               currentPassword=WRONG))[0] for _ in range(6)]
        assert statuses == [400] * 5 + [423]
        assert await act(client, "role change", admin, target,
                         currentPassword=PASSWORD) == (423, "ACCOUNT_LOCKED")
        assert await unchanged(client, target)

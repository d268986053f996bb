"""GET/PATCH/DELETE /api/v1/users/{id} over HTTP: who may, what changes, the last-admin rule."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from tests.handlers._auth import AUTH, PASSWORD, db_of, refresh
from tests.handlers._users import PUBLIC_KEYS, Person, call, person_of

UNKNOWN = str(ObjectId())
BAD_IDS = ["123", "zzzzzzzzzzzzzzzzzzzzzzzz", "abcdefghijkl"]


@pytest.fixture
async def people(client: TestClient) -> dict[str, Person]:  # type: ignore[type-arg]
    """One signed-in person per role, plus a plain `target` user to act on."""
    found = {role: await person_of(client, role) for role in ("user", "moderator", "admin")}
    return {**found, "target": await person_of(client)}


async def login_status(client: TestClient, email: str) -> int:  # type: ignore[type-arg]
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": PASSWORD})
    return resp.status


class TestGetUser:
    @pytest.mark.parametrize("role", ["admin", "moderator"])
    async def test_staff_read_any_user(self, client: TestClient,  # type: ignore[type-arg]
                                       people: dict[str, Person], role: str) -> None:
        target = people["target"]
        status, body = await call(client, "GET", f"/{target.id}", people[role])
        assert status == 200
        user = body["data"]["user"]
        assert set(user) == PUBLIC_KEYS
        assert (user["id"], user["email"]) == (target.id, target.email)

    async def test_a_user_is_403_even_for_themselves(
            self, client: TestClient, people: dict[str, Person]) -> None:  # type: ignore[type-arg]
        for target in (people["target"], people["user"]):
            status, body = await call(client, "GET", f"/{target.id}", people["user"])
            assert (status, body["error"]) == (403, "Insufficient permissions")

    async def test_without_a_token_is_401(self, client: TestClient,  # type: ignore[type-arg]
                                          people: dict[str, Person]) -> None:
        assert (await call(client, "GET", f"/{people['target'].id}"))[0] == 401

    @pytest.mark.parametrize("role", ["admin", "moderator"])
    @pytest.mark.parametrize("bad", BAD_IDS)
    async def test_invalid_id_is_400(self, client: TestClient, people: dict[str, Person],  # type: ignore[type-arg]
                                     role: str, bad: str) -> None:
        status, body = await call(client, "GET", f"/{bad}", people[role])
        assert (status, body["error"], body["code"]) == (400, "Invalid ID format", "INVALID_ID")

    @pytest.mark.parametrize("role", ["admin", "moderator"])
    async def test_unknown_id_is_404(self, client: TestClient,  # type: ignore[type-arg]
                                     people: dict[str, Person], role: str) -> None:
        status, body = await call(client, "GET", f"/{UNKNOWN}", people[role])
        assert (status, body["error"]) == (404, "User not found")


class TestUpdateUser:
    async def test_admin_changes_role_and_profile(
            self, client: TestClient, people: dict[str, Person]) -> None:  # type: ignore[type-arg]
        target = people["target"]
        status, body = await call(client, "PATCH", f"/{target.id}", people["admin"], json={
            "role": "moderator", "lastName": "Byron", "preferences": {"language": "fr"}})
        assert status == 200, body
        user = body["data"]["user"]
        assert (user["role"], user["lastName"]) == ("moderator", "Byron")
        assert user["preferences"]["language"] == "fr"
        # The new role applies to the target's existing token at once.
        assert (await call(client, "GET", f"/{people['user'].id}", target))[0] == 200

    async def test_deactivation_ends_the_users_sessions(
            self, client: TestClient, people: dict[str, Person]) -> None:  # type: ignore[type-arg]
        target = people["target"]
        status, body = await call(client, "PATCH", f"/{target.id}", people["admin"],
                                  json={"isActive": False})
        assert (status, body["data"]["user"]["isActive"]) == (200, False)
        assert (await call(client, "GET", "/me", target))[0] == 401
        assert (await refresh(client, target.refresh_token)).status in (401, 403)
        assert await login_status(client, target.email) == 403
        status, _ = await call(client, "PATCH", f"/{target.id}", people["admin"],
                               json={"isActive": True})
        assert status == 200
        assert await login_status(client, target.email) == 200

    async def test_email_taken_is_409(self, client: TestClient,  # type: ignore[type-arg]
                                      people: dict[str, Person]) -> None:
        status, body = await call(client, "PATCH", f"/{people['target'].id}", people["admin"],
                                  json={"email": people["user"].email})
        assert (status, body["error"]) == (409, "User already exists with this email")

    @pytest.mark.parametrize("changes", [{"role": "root"}, {"isActive": "no"},
                                         {"password": "N3w!Passw0rd"}, {"id": UNKNOWN},
                                         {"firstName": 5}])
    async def test_invalid_body_is_400(self, client: TestClient, people: dict[str, Person],  # type: ignore[type-arg]
                                       changes: dict[str, Any]) -> None:
        status, body = await call(client, "PATCH", f"/{people['target'].id}", people["admin"],
                                  json=changes)
        assert (status, body["code"]) == (400, "VALIDATION_ERROR")

    async def test_invalid_and_unknown_ids(self, client: TestClient,  # type: ignore[type-arg]
                                           people: dict[str, Person]) -> None:
        status, body = await call(client, "PATCH", "/123", people["admin"], json={})
        assert (status, body["error"]) == (400, "Invalid ID format")
        status, body = await call(client, "PATCH", f"/{UNKNOWN}", people["admin"],
                                  json={"role": "user"})
        assert (status, body["error"]) == (404, "User not found")

    @pytest.mark.parametrize("role", ["user", "moderator"])
    async def test_non_admins_are_403(self, client: TestClient,  # type: ignore[type-arg]
                                      people: dict[str, Person], role: str) -> None:
        target = people["target"]
        status, body = await call(client, "PATCH", f"/{target.id}", people[role],
                                  json={"role": "admin"})
        assert (status, body["error"]) == (403, "Insufficient permissions")
        status, body = await call(client, "GET", f"/{target.id}", people["admin"])
        assert body["data"]["user"]["role"] == "user"

    async def test_without_a_token_is_401(self, client: TestClient,  # type: ignore[type-arg]
                                          people: dict[str, Person]) -> None:
        status, _ = await call(client, "PATCH", f"/{people['target'].id}", json={"role": "user"})
        assert status == 401


class TestDeleteUser:
    async def test_admin_deletes_user_and_sessions(
            self, client: TestClient, people: dict[str, Person]) -> None:  # type: ignore[type-arg]
        target = people["target"]
        status, body = await call(client, "DELETE", f"/{target.id}", people["admin"])
        assert (status, body["message"]) == (200, "User deleted")
        assert (await call(client, "GET", f"/{target.id}", people["admin"]))[0] == 404
        assert (await call(client, "GET", "/me", target))[0] == 401
        assert (await refresh(client, target.refresh_token)).status == 401
        assert await db_of(client).sessions.count_documents({"user": ObjectId(target.id)}) == 0
        assert await login_status(client, target.email) == 401
        status, body = await call(client, "DELETE", f"/{target.id}", people["admin"])
        assert (status, body["error"]) == (404, "User not found")

    @pytest.mark.parametrize("role", ["user", "moderator"])
    async def test_non_admins_are_403(self, client: TestClient,  # type: ignore[type-arg]
                                      people: dict[str, Person], role: str) -> None:
        target = people["target"]
        status, body = await call(client, "DELETE", f"/{target.id}", people[role])
        assert (status, body["error"]) == (403, "Insufficient permissions")
        assert (await call(client, "GET", "/me", target))[0] == 200

    async def test_ids(self, client: TestClient, people: dict[str, Person]) -> None:  # type: ignore[type-arg]
        status, body = await call(client, "DELETE", "/not-an-id", people["admin"])
        assert (status, body["error"]) == (400, "Invalid ID format")
        status, body = await call(client, "DELETE", f"/{UNKNOWN}", people["admin"])
        assert (status, body["error"]) == (404, "User not found")
        assert (await call(client, "DELETE", f"/{UNKNOWN}"))[0] == 401


class TestLastAdmin:
    @pytest.mark.parametrize(("method", "body"), [
        ("PATCH", {"role": "user"}), ("PATCH", {"role": "moderator"}),
        ("PATCH", {"isActive": False}), ("DELETE", None)])
    async def test_the_last_admin_cannot_be_removed(
            self, client: TestClient, method: str, body: dict[str, Any] | None) -> None:  # type: ignore[type-arg]
        admin = await person_of(client, "admin")
        status, answer = await call(client, method, f"/{admin.id}", admin, json=body)
        assert (status, answer["code"]) == (400, "LAST_ADMIN")
        assert answer["error"] == ("Cannot remove the last active admin: promote another "
                                   "admin first")
        status, answer = await call(client, "GET", "/me", admin)
        assert (answer["data"]["user"]["role"], answer["data"]["user"]["isActive"]) \
            == ("admin", True)

    async def test_an_inactive_admin_does_not_count(self, client: TestClient) -> None:  # type: ignore[type-arg]
        admin = await person_of(client, "admin")
        dormant = await person_of(client, "admin")
        await db_of(client).users.update_one({"_id": ObjectId(dormant.id)},
                                             {"$set": {"isActive": False}})
        status, answer = await call(client, "PATCH", f"/{admin.id}", admin,
                                    json={"role": "user"})
        assert (status, answer["code"]) == (400, "LAST_ADMIN")

    async def test_with_two_admins_one_may_go(self, client: TestClient) -> None:  # type: ignore[type-arg]
        first = await person_of(client, "admin")
        second = await person_of(client, "admin")
        status, _ = await call(client, "PATCH", f"/{first.id}", second, json={"role": "user"})
        assert status == 200
        # Now `second` is the last one: neither demotion nor deletion of it is allowed.
        status, answer = await call(client, "DELETE", f"/{second.id}", second)
        assert (status, answer["code"]) == (400, "LAST_ADMIN")
        status, _ = await call(client, "PATCH", f"/{first.id}", second, json={"role": "admin"})
        assert status == 200
        assert (await call(client, "DELETE", f"/{second.id}", first))[0] == 200

    async def test_other_changes_to_the_last_admin_are_fine(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        admin = await person_of(client, "admin")
        status, answer = await call(client, "PATCH", f"/{admin.id}", admin,
                                    json={"role": "admin", "isActive": True,
                                          "firstName": "Root"})
        assert (status, answer["data"]["user"]["firstName"]) == (200, "Root")

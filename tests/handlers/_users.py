"""Helpers for the users contract tests: people of each role, signed in, and request shortcuts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient
from bson import ObjectId

from tests._app import bearer
from tests.handlers._auth import db_of, register

USERS = "/api/v1/users"
PUBLIC_KEYS = {"id", "firstName", "lastName", "fullName", "email", "pendingEmail", "role",
               "isActive", "isEmailVerified", "phoneNumber", "dateOfBirth", "profilePicture",
               "preferences", "lastLogin", "createdAt", "updatedAt"}


@dataclass
class Person:
    """A registered, signed-in user of a given role."""

    id: str
    email: str
    role: str
    token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def person_of(client: TestClient, role: str = "user",  # type: ignore[type-arg]
                    email: str | None = None, **extra: Any) -> Person:
    """Register over HTTP, then give the account `role` (test setup writes it directly: the
    only HTTP way to make an admin is an admin)."""
    email = email or f"{role}-{ObjectId()}@example.com"
    data = await register(client, email, **extra)
    user_id = data["user"]["id"]
    if role != "user":
        await db_of(client).users.update_one({"_id": ObjectId(user_id)},
                                             {"$set": {"role": role}})
    return Person(user_id, email, role, data["accessToken"], data["refreshToken"])


async def call(client: TestClient, method: str, path: str,  # type: ignore[type-arg]
               who: Person | None = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """One request under /api/v1/users as `who`; returns (status, JSON body)."""
    headers = who.auth if who is not None else {}
    async with client.request(method, f"{USERS}{path}", headers=headers, **kwargs) as resp:
        return resp.status, await resp.json()

"""Refresh tokens carry `<session id>.<user id>.<secret>` (issue 14: a rotation is two
commands); tokens issued before, `<session id>.<secret>`, keep working after an upgrade."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from server.security import token_hash
from tests._app import bearer
from tests.handlers._auth import db_of, refresh, register

Client = TestClient  # type: ignore[type-arg]


async def test_a_token_names_its_session_and_its_user(client: Client) -> None:
    data = await register(client)
    sid, uid, secret = data["refreshToken"].split(".")
    me = await client.get("/api/v1/users/me", headers=bearer(data["accessToken"]))
    assert (await me.json())["data"]["user"]["id"] == uid
    assert secret
    assert sid != uid


async def test_a_token_from_before_the_upgrade_still_rotates(client: Client) -> None:
    sid = (await register(client))["refreshToken"].split(".")[0]
    legacy = f"{sid}.an-old-style-secret"  # what the service issued before this change
    await db_of(client).sessions.update_one({"_id": sid},
                                            {"$set": {"refreshHash": token_hash(legacy)}})
    resp = await refresh(client, legacy)
    assert resp.status == 200
    successor = (await resp.json())["data"]["refreshToken"]
    assert successor.split(".")[0] == sid
    assert successor.count(".") == 1
    assert (await refresh(client, successor)).status == 200


async def test_another_users_id_in_the_token_is_refused(client: Client) -> None:
    mine = (await register(client, "ann@example.com"))["refreshToken"]
    theirs = (await register(client, "bob@example.com"))["refreshToken"]
    sid, _, secret = mine.split(".")
    forged = f"{sid}.{theirs.split('.')[1]}.{secret}"
    assert (await refresh(client, forged)).status == 401
    assert (await refresh(client, mine)).status == 200  # the forgery ended nothing

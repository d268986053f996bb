"""POST /api/v1/auth/refresh-token over HTTP: rotation, reuse detection and its grace window."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.config import Config
from server.observability.metrics import METRICS
from tests._app import bearer
from tests.handlers._auth import AUTH, clocked_client, db_of, refresh, register

REFRESH = f"{AUTH}/refresh-token"


async def by_cookie(client: TestClient, token: str) -> Any:  # type: ignore[type-arg]
    client.session.cookie_jar.clear()
    return await client.post(REFRESH, headers={"Cookie": f"refreshToken={token}"})


async def rotated(client: TestClient, token: str) -> dict[str, Any]:  # type: ignore[type-arg]
    resp = await refresh(client, token)
    body = await resp.json()
    assert resp.status == 200, body
    return body["data"]  # type: ignore[no-any-return]


async def error_of(resp: Any) -> tuple[int, str]:
    return resp.status, (await resp.json())["error"]


class TestRotation:
    async def test_cookie_refresh_returns_access_token_and_a_new_cookie(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        old = (await register(client))["refreshToken"]
        resp = await by_cookie(client, old)
        body = await resp.json()
        assert resp.status == 200
        assert set(body["data"]) == {"accessToken"}
        cookie = resp.cookies["refreshToken"]
        assert cookie.value != old
        header = resp.headers["Set-Cookie"]
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/api/v1/auth", "Max-Age=604800"):
            assert attribute in header
        sessions = await client.get(f"{AUTH}/sessions",
                                    headers=bearer(body["data"]["accessToken"]))
        assert sessions.status == 200

    async def test_body_refresh_returns_the_new_token_in_the_body(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        old = (await register(client))["refreshToken"]
        data = await rotated(client, old)
        assert data["refreshToken"] != old
        assert (await rotated(client, data["refreshToken"]))["accessToken"]

    async def test_only_hashes_are_stored(self, client: TestClient) -> None:  # type: ignore[type-arg]
        old = (await register(client))["refreshToken"]
        new = (await rotated(client, old))["refreshToken"]
        doc = await db_of(client).sessions.find_one({})
        assert old not in str(doc)
        assert new not in str(doc)
        assert doc["generation"] == 1

    async def test_counts_refreshes(self, client: TestClient) -> None:  # type: ignore[type-arg]
        await rotated(client, (await register(client))["refreshToken"])
        value = client.app[METRICS].registry.get_sample_value(  # type: ignore[index]
            "gatehouse_auth_events_total", {"event": "refresh"})
        assert value == 1


class TestRefreshFailures:
    async def test_without_token_is_401_not_found(self, client: TestClient) -> None:  # type: ignore[type-arg]
        client.session.cookie_jar.clear()
        resp = await client.post(REFRESH)
        assert await error_of(resp) == (401, "Refresh token not found")
        resp = await client.post(REFRESH, json={})
        assert await error_of(resp) == (401, "Refresh token not found")

    @pytest.mark.parametrize("token", ["garbage", "0" * 24 + ".abc", "." * 3])
    async def test_unknown_token_is_invalid(self, client: TestClient, token: str) -> None:  # type: ignore[type-arg]
        assert await error_of(await refresh(client, token)) == (401, "Invalid refresh token")

    async def test_a_forged_secret_for_a_known_session_does_not_end_it(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        token = (await register(client))["refreshToken"]
        sid = token.split(".")[0]
        assert await error_of(await refresh(client, f"{sid}.forged")) == \
            (401, "Invalid refresh token")
        assert (await rotated(client, token))["accessToken"]

    async def test_expired_session_is_invalid(self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        token = (await register(client))["refreshToken"]
        clock.advance(timedelta(days=7, seconds=1))
        assert await error_of(await refresh(client, token)) == (401, "Invalid refresh token")

    async def test_each_rotation_extends_the_session(self, aiohttp_client: Any,
                                                     config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        token = (await register(client))["refreshToken"]
        clock.advance(timedelta(days=6))
        token = (await rotated(client, token))["refreshToken"]
        clock.advance(timedelta(days=6))
        assert (await rotated(client, token))["accessToken"]

    async def test_deactivated_user_is_403(self, client: TestClient) -> None:  # type: ignore[type-arg]
        token = (await register(client))["refreshToken"]
        await db_of(client).users.update_one({}, {"$set": {"isActive": False}})
        assert await error_of(await refresh(client, token)) == (403, "Account is deactivated")


class TestReuseDetection:
    async def test_replaying_a_rotated_token_ends_the_whole_session(
            self, aiohttp_client: Any, config: Config,
            caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        client, clock = await clocked_client(aiohttp_client, config)
        old = (await register(client))["refreshToken"]
        current = await rotated(client, old)
        clock.advance(timedelta(seconds=11))  # past jwt.refresh_reuse_grace (10s)
        assert await error_of(await refresh(client, old)) == (401, "Invalid refresh token")
        # The thief's replay cost the holder of the current pair too: the session is gone.
        assert await error_of(await refresh(client, current["refreshToken"])) == \
            (401, "Invalid refresh token")
        resp = await client.get(f"{AUTH}/sessions", headers=bearer(current["accessToken"]))
        assert await error_of(resp) == (401, "Invalid token")
        assert await db_of(client).sessions.count_documents({}) == 0
        assert "refresh_reuse_detected" in [r.getMessage() for r in caplog.records]
        for secret in (old, current["refreshToken"], current["accessToken"]):
            assert secret not in caplog.text
            assert secret.split(".")[-1] not in caplog.text
        value = client.app[METRICS].registry.get_sample_value(  # type: ignore[index]
            "gatehouse_auth_events_total", {"event": "reuse_detected"})
        assert value == 1

    async def test_an_older_generation_is_also_reuse(self, client: TestClient) -> None:  # type: ignore[type-arg]
        first = (await register(client))["refreshToken"]
        second = (await rotated(client, first))["refreshToken"]
        third = (await rotated(client, second))["refreshToken"]
        assert (await refresh(client, first)).status == 401
        assert (await refresh(client, third)).status == 401

    async def test_within_grace_the_rotated_token_gets_the_current_pair(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        old = (await register(client))["refreshToken"]
        current = (await rotated(client, old))["refreshToken"]
        clock.advance(timedelta(seconds=9))
        again = await rotated(client, old)
        assert again["refreshToken"] == current
        assert (await client.get(f"{AUTH}/sessions",
                                 headers=bearer(again["accessToken"]))).status == 200
        assert (await rotated(client, current))["refreshToken"] != current

    async def test_concurrent_refreshes_with_one_token_all_get_the_same_pair(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        old = (await register(client))["refreshToken"]
        results = await asyncio.gather(*(client.post(REFRESH, json={"refreshToken": old})
                                         for _ in range(6)))
        assert [r.status for r in results] == [200] * 6
        tokens = {(await r.json())["data"]["refreshToken"] for r in results}
        assert len(tokens) == 1
        assert await db_of(client).sessions.count_documents({}) == 1
        assert (await rotated(client, tokens.pop()))["accessToken"]

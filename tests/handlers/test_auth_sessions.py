"""Sessions over HTTP: logout, logout-all, listing, ending one, and the per-user cap."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.config import Config
from tests._app import bearer
from tests.handlers._auth import AUTH, db_of, login, person, refresh, register

SESSIONS = f"{AUTH}/sessions"


async def status_error(resp: Any) -> tuple[int, str]:
    return resp.status, (await resp.json())["error"]


async def alive(client: TestClient, access: str) -> bool:  # type: ignore[type-arg]
    return (await client.get(SESSIONS, headers=bearer(access))).status == 200


class TestLogout:
    async def test_ends_the_session_refresh_token_and_access_token(
            self, client: TestClient, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[type-arg]
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        data = await register(client)
        resp = await client.post(f"{AUTH}/logout", headers={
            **bearer(data["accessToken"]), "Cookie": f"refreshToken={data['refreshToken']}"})
        body = await resp.json()
        assert resp.status == 200
        assert body["message"] == "Logout successful"
        cleared = resp.headers["Set-Cookie"]
        assert cleared.startswith(('refreshToken="";', "refreshToken=;"))
        assert "Max-Age=0" in cleared
        assert "Path=/api/v1/auth" in cleared
        # The refresh token is gone from the database, and both tokens are refused at once.
        assert await db_of(client).sessions.count_documents({}) == 0
        assert await status_error(await refresh(client, data["refreshToken"])) == \
            (401, "Invalid refresh token")
        assert not await alive(client, data["accessToken"])
        assert "session_ended" in [r.getMessage() for r in caplog.records]

    async def test_other_sessions_survive(self, client: TestClient) -> None:  # type: ignore[type-arg]
        first = await register(client)
        second = await login(client)
        await client.post(f"{AUTH}/logout", headers=bearer(first["accessToken"]))
        assert await alive(client, second["accessToken"])
        assert (await refresh(client, second["refreshToken"])).status == 200

    async def test_requires_a_bearer_token(self, client: TestClient) -> None:  # type: ignore[type-arg]
        resp = await client.post(f"{AUTH}/logout")
        assert await status_error(resp) == (401, "Access token is required")


class TestLogoutAll:
    async def test_ends_every_session(self, client: TestClient) -> None:  # type: ignore[type-arg]
        first = await register(client)
        second = await login(client)
        resp = await client.post(f"{AUTH}/logout-all", headers=bearer(second["accessToken"]))
        assert resp.status == 200
        assert (await resp.json())["success"] is True
        for data in (first, second):
            assert not await alive(client, data["accessToken"])
            assert (await refresh(client, data["refreshToken"])).status == 401
        assert await db_of(client).sessions.count_documents({}) == 0

    async def test_requires_a_bearer_token(self, client: TestClient) -> None:  # type: ignore[type-arg]
        assert (await client.post(f"{AUTH}/logout-all")).status == 401


class TestListSessions:
    async def test_lists_live_sessions_and_marks_the_current_one(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        first = await register(client)
        second = await login(client, **{"User-Agent": "Browser/2"})
        resp = await client.get(SESSIONS, headers=bearer(second["accessToken"]))
        sessions = (await resp.json())["data"]["sessions"]
        assert len(sessions) == 2
        assert set(sessions[0]) == {"id", "createdAt", "lastUsedAt", "userAgent", "ip",
                                    "current"}
        assert [s["current"] for s in sessions] == [False, True]
        assert sessions[1]["userAgent"] == "Browser/2"
        assert sessions[1]["ip"] == "127.0.0.1"
        assert sessions[0]["id"] == first["refreshToken"].split(".")[0]
        assert sessions[0]["createdAt"].endswith("Z")

    async def test_never_lists_token_material(self, client: TestClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        text = await (await client.get(SESSIONS, headers=bearer(data["accessToken"]))).text()
        assert "Hash" not in text
        assert data["refreshToken"].split(".")[1] not in text

    async def test_requires_a_bearer_token(self, client: TestClient) -> None:  # type: ignore[type-arg]
        assert (await client.get(SESSIONS)).status == 401

    async def test_the_user_agent_is_escaped_like_every_string_input(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        """Issue 13 item 21: `<` and `>` of the User-Agent are HTML-escaped before they are
        stored, as the sanitizer escapes every string of a body or query."""
        resp = await client.post(f"{AUTH}/register", json=person(),
                                 headers={"User-Agent": "<script>alert(1)</script>"})
        assert resp.status == 201
        long_agent = "Evil<img src=x onerror=alert(2)>" + "x" * 600
        second = await login(client, **{"User-Agent": long_agent})
        resp = await client.get(SESSIONS, headers=bearer(second["accessToken"]))
        agents = [s["userAgent"] for s in (await resp.json())["data"]["sessions"]]
        assert agents[0] == "&lt;script&gt;alert(1)&lt;/script&gt;"
        assert agents[1] == ("Evil&lt;img src=x onerror=alert(2)&gt;" + "x" * 480)
        stored = [doc["userAgent"] async for doc in db_of(client).sessions.find()]
        assert not any("<" in agent or ">" in agent for agent in stored)


class TestDeleteSession:
    async def test_ends_that_session_only(self, client: TestClient) -> None:  # type: ignore[type-arg]
        first = await register(client)
        second = await login(client)
        sid = first["refreshToken"].split(".")[0]
        resp = await client.delete(f"{SESSIONS}/{sid}", headers=bearer(second["accessToken"]))
        assert resp.status == 200
        assert not await alive(client, first["accessToken"])
        assert (await refresh(client, first["refreshToken"])).status == 401
        assert await alive(client, second["accessToken"])

    @pytest.mark.parametrize("sid", ["0" * 24, "not-an-id"])
    async def test_unknown_session_is_404(self, client: TestClient, sid: str) -> None:  # type: ignore[type-arg]
        data = await register(client)
        resp = await client.delete(f"{SESSIONS}/{sid}", headers=bearer(data["accessToken"]))
        assert await status_error(resp) == (404, "Session not found")

    async def test_another_users_session_is_404(self, client: TestClient) -> None:  # type: ignore[type-arg]
        mine = await register(client)
        theirs = await register(client, "grace@example.com")
        sid = theirs["refreshToken"].split(".")[0]
        resp = await client.delete(f"{SESSIONS}/{sid}", headers=bearer(mine["accessToken"]))
        assert resp.status == 404
        assert await alive(client, theirs["accessToken"])


class TestSessionCap:
    async def test_a_sixth_login_drops_the_oldest_session(
            self, client: TestClient, config: Config,  # type: ignore[type-arg]
            caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        assert config.security.max_sessions == 5
        signed_in = [await register(client)]
        signed_in += [await login(client) for _ in range(5)]
        oldest, kept = signed_in[0], signed_in[1:]
        assert not await alive(client, oldest["accessToken"])
        assert (await refresh(client, oldest["refreshToken"])).status == 401
        for data in kept:
            assert await alive(client, data["accessToken"])
        assert await db_of(client).sessions.count_documents({}) == 5
        resp = await client.get(SESSIONS, headers=bearer(kept[-1]["accessToken"]))
        assert len((await resp.json())["data"]["sessions"]) == 5
        ended = [r for r in caplog.records if r.getMessage() == "session_ended"]
        assert [r.fields["reason"] for r in ended] == ["session_cap"]  # type: ignore[attr-defined]

"""Headers that are not UTF-8 (sent raw: client libraries refuse to) are made well-formed once;
they never turn register or login into a 500, and a register that fails leaves nothing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from server.observability.logs import JsonFormatter
from tests._app import bearer, closed
from tests.handlers._auth import AUTH, PASSWORD, db_of, person, register

BAD_AGENT = b"Mozilla/5.0 \xff\xfe (X11; \xc3\xa9)"  # two stray bytes, then a valid e-acute
SAFE_AGENT = "Mozilla/5.0 \ufffd\ufffd (X11; \u00e9)"


async def send(client: TestClient, method: str, path: str,  # type: ignore[type-arg]
               body: dict[str, Any] | None = None,
               headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, dict[str, Any]]:
    """One raw HTTP/1.1 request with header bytes exactly as given; (status, JSON body)."""
    payload = orjson.dumps(body) if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: x", b"Connection: close",
             b"Content-Type: application/json", b"Content-Length: %d" % len(payload),
             *(name + b": " + value for name, value in headers)]
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + payload)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        await closed(writer)
    head, _, content = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(content) if content else {}


async def sessions_of(client: TestClient, access: str) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    resp = await client.get(f"{AUTH}/sessions", headers=bearer(access))
    assert resp.status == 200
    return (await resp.json())["data"]["sessions"]  # type: ignore[no-any-return]


class TestRegisterAndLogin:
    async def test_register_with_a_bad_user_agent(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await send(client, "POST", f"{AUTH}/register", person(),
                                  [(b"User-Agent", BAD_AGENT)])
        assert status == 201, body
        [session] = await sessions_of(client, body["data"]["accessToken"])
        assert session["userAgent"] == SAFE_AGENT
        db = db_of(client)
        assert await db.users.count_documents({}) == 1
        assert await db.outbox.count_documents({"to": "ada@example.com"}) == 1

    async def test_login_with_a_bad_user_agent(self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register(client)
        status, body = await send(client, "POST", f"{AUTH}/login",
                                  {"email": "ada@example.com", "password": PASSWORD},
                                  [(b"User-Agent", BAD_AGENT)])
        assert status == 200, body
        agents = {s["userAgent"] for s in await sessions_of(client, body["data"]["accessToken"])}
        assert SAFE_AGENT in agents

    async def test_bad_forwarded_for_behind_a_proxy(self, make_client, make_config) -> None:
        client = await make_client(make_config(server={"trust_proxy": 1}))
        status, body = await send(client, "POST", f"{AUTH}/register", person(),
                                  [(b"X-Forwarded-For", b"203.0.113.7\xff")])
        assert status == 201, body
        [session] = await sessions_of(client, body["data"]["accessToken"])
        assert session["ip"] == "203.0.113.7\ufffd"


class TestOtherHeaders:
    async def test_bad_refresh_cookie_is_a_401(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await send(client, "POST", f"{AUTH}/refresh-token", {},
                                  [(b"Cookie", b"refreshToken=\xff\xfe.\xff")])
        assert status == 401, body

    async def test_bad_bearer_token_is_a_401(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await send(client, "GET", "/api/v1/users/me",
                                  headers=[(b"Authorization", b"Bearer \xff\xfe")])
        assert status == 401, body

    async def test_the_access_line_is_written(self, client: TestClient,  # type: ignore[type-arg]
                                              caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="gatehouse.access")
        status, _ = await send(client, "GET", "/health", headers=[(b"User-Agent", BAD_AGENT)])
        assert status == 200
        formatter = JsonFormatter()
        [line] = [orjson.loads(formatter.format(r)) for r in caplog.records
                  if r.name == "gatehouse.access"]
        assert line["userAgent"] == SAFE_AGENT


class TestFailedRegisterLeavesNothing:
    async def test_no_account_without_its_session(self, client: TestClient) -> None:  # type: ignore[type-arg]
        # A real database constraint makes the session insert fail after the user insert.
        db = db_of(client)
        await db.sessions.create_index("userAgent", unique=True, name="one_per_agent")
        await db.sessions.insert_one({"_id": "taken", "userAgent": "probe/1"})
        resp = await client.post(f"{AUTH}/register", json=person(),
                                 headers={"User-Agent": "probe/1"})
        assert resp.status == 500
        assert await db.users.count_documents({}) == 0
        assert await db.outbox.count_documents({}) == 0
        await db.sessions.drop_index("one_per_agent")
        # The address is free again: the retry registers instead of answering 409.
        retry = await client.post(f"{AUTH}/register", json=person(),
                                  headers={"User-Agent": "probe/1"})
        assert retry.status == 201

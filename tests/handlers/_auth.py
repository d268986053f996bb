"""Helpers for the auth contract tests: sign-up payloads, mailed tokens, a clocked client."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from aiohttp.test_utils import TestClient

from server.core.config import Config
from server.db import DB
from tests._app import Clock, build_app
from tests.conftest import SmtpSink

AUTH = "/api/v1/auth"
PASSWORD = "Str0ng!Passw0rd"
NEW_PASSWORD = "N3w!Passw0rd-ok"


def person(email: str = "ada@example.com", **extra: Any) -> dict[str, Any]:
    return {"firstName": "Ada", "lastName": "Lovelace", "email": email, "password": PASSWORD,
            **extra}


def db_of(client: TestClient) -> Any:  # type: ignore[type-arg]
    return client.app[DB]  # type: ignore[index]


async def clocked_client(aiohttp_client: Any, config: Config) -> tuple[TestClient, Clock]:  # type: ignore[type-arg]
    """A client on the real app whose clock the test moves (set before the app starts)."""
    clock = Clock()
    return await aiohttp_client(build_app(config, clock=clock)), clock


async def register(client: TestClient, email: str = "ada@example.com",  # type: ignore[type-arg]
                   **extra: Any) -> dict[str, Any]:
    """Register and return `data` plus the refresh cookie as `refreshToken`."""
    resp = await client.post(f"{AUTH}/register", json=person(email, **extra))
    body = await resp.json()
    assert resp.status == 201, body
    return {**body["data"], "refreshToken": resp.cookies["refreshToken"].value}


async def login(client: TestClient, email: str = "ada@example.com",  # type: ignore[type-arg]
                password: str = PASSWORD, **headers: str) -> dict[str, Any]:
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password},
                             headers=headers)
    body = await resp.json()
    assert resp.status == 200, body
    return {**body["data"], "refreshToken": resp.cookies["refreshToken"].value}


async def mailed_tokens(sink: SmtpSink, to: str, path: str, count: int = 1,
                       within: float = 5.0) -> list[str]:
    """Tokens of `/{path}?token=` links mailed to `to` (arrival order), waiting until at
    least `count` have arrived through the real outbox and SMTP delivery."""
    deadline = time.monotonic() + within
    while True:
        found = [token for message in sink.received_by(to)
                 for token in re.findall(rf"/{path}\?token=([A-Za-z0-9_\-]+)",
                                         SmtpSink.parts(message)[0])]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def refresh(client: TestClient, token: str) -> Any:  # type: ignore[type-arg]
    """POST /refresh-token with the token in the JSON body (no cookie jar)."""
    client.session.cookie_jar.clear()
    return await client.post(f"{AUTH}/refresh-token", json={"refreshToken": token})

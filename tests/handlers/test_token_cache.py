"""The verified-token cache over HTTP (issue 15 item 6): a token is verified once, yet an
expired one is still 401 `Token expired`, and an ended session still 401 at once (the
authenticated path reads the session from the database on every request)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.config import Config
from server.signing import KEYRING
from tests._app import Clock, bearer, build_app
from tests.handlers._auth import AUTH, register

ME = "/api/v1/users/me"


@pytest.fixture
async def clocked(aiohttp_client: Any,
                  make_config: Callable[..., Config]) -> tuple[TestClient, Clock]:  # type: ignore[type-arg]
    clock = Clock()
    config = make_config(jwt={"algorithm": "EdDSA"})
    return await aiohttp_client(build_app(config, clock=clock)), clock


async def status(client: TestClient, token: str) -> tuple[int, str | None]:  # type: ignore[type-arg]
    resp = await client.get(ME, headers=bearer(token))
    return resp.status, (await resp.json()).get("error")


async def test_verified_once_then_remembered(clocked: tuple[TestClient, Clock]) -> None:  # type: ignore[type-arg]
    client, _ = clocked
    token = (await register(client))["accessToken"]
    cache = client.app[KEYRING].cache  # type: ignore[index]
    assert await status(client, token) == (200, None)
    assert len(cache) == 1
    assert await status(client, token) == (200, None)
    assert len(cache) == 1


async def test_expiry_still_checked(clocked: tuple[TestClient, Clock]) -> None:  # type: ignore[type-arg]
    client, clock = clocked
    token = (await register(client))["accessToken"]
    assert await status(client, token) == (200, None)
    clock.advance(timedelta(minutes=15))
    assert await status(client, token) == (401, "Token expired")


@pytest.mark.parametrize("end", ["logout", "logout-all"])
async def test_an_ended_session_is_refused_at_once(clocked: tuple[TestClient, Clock],  # type: ignore[type-arg]
                                                   end: str) -> None:
    client, _ = clocked
    data = await register(client)
    token = data["accessToken"]
    assert await status(client, token) == (200, None)  # cached
    resp = await client.post(f"{AUTH}/{end}", headers=bearer(token),
                             cookies={"refreshToken": data["refreshToken"]})
    assert resp.status == 200
    assert await status(client, token) == (401, "Invalid token")

"""Helpers for the credential race tests: a login held in real bcrypt while another flow commits.

Timing is derived, not guessed: `login_seconds` measures a login here and now (its bcrypt at
cost 12 is nearly all of it). A login reads the user at once and adds its session about one
login time later; an event that spends k bcrypts commits about k login times after it starts.
`login_during` starts the two so the event commits half a login time inside the login's
bcrypt, whatever the machine's load, and the tests bound the number of trials.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests._app import bearer
from tests.handlers._auth import AUTH, PASSWORD, refresh

ROUNDS = 12  # real cost: the window the races aim at is one bcrypt wide
TRIALS = 4
Client = TestClient  # type: ignore[type-arg]


@dataclass(frozen=True)
class Raced:
    """What the login that ran alongside the event answered."""

    status: int
    body: dict[str, Any]
    access: str | None
    refresh: str | None


async def login_seconds(client: Client, email: str, password: str = PASSWORD) -> float:
    """How long one successful login takes now (its session is ended by the event later)."""
    started = time.monotonic()
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    assert resp.status == 200, await resp.text()
    return time.monotonic() - started


async def login_during(client: Client, email: str, event: Callable[[], Awaitable[Any]], *,
                       event_bcrypts: int, seconds: float,
                       password: str = PASSWORD) -> tuple[Raced, Any]:
    """Run a login with `password` and `event` so that the event commits while the login is
    in bcrypt (after it read the user, before it adds its session). Returns both results."""
    login_at = max(0.0, (event_bcrypts - 0.5) * seconds)
    event_at = 0.0 if event_bcrypts else seconds / 2

    async def late_login() -> Raced:
        await asyncio.sleep(login_at)
        client.session.cookie_jar.clear()
        resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
        body = await resp.json()
        cookie = resp.cookies.get("refreshToken")
        return Raced(resp.status, body, (body.get("data") or {}).get("accessToken"),
                     cookie.value if cookie is not None else None)

    async def fire() -> Any:
        await asyncio.sleep(event_at)
        return await event()

    return await asyncio.gather(late_login(), fire())


async def assert_dead(client: Client, raced: Raced) -> None:
    """Neither token of the raced login works (a refused login has none)."""
    if raced.access is not None:
        resp = await client.get("/api/v1/users/me", headers=bearer(raced.access))
        assert resp.status == 401, "the late login's access token still authenticates"
    if raced.refresh is not None:
        resp = await refresh(client, raced.refresh)
        assert resp.status == 401, "the late login's refresh token still rotates"


def guarded(caplog: pytest.LogCaptureFixture) -> int:
    """How many logins were refused because the credentials changed during their bcrypt."""
    return sum(1 for r in caplog.records if r.getMessage() == "login_failed"
               and getattr(r, "fields", {}).get("reason") == "credentials_changed")


def watch(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gatehouse.security")

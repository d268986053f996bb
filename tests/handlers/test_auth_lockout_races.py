"""Lockout under concurrency at real bcrypt cost (12), over HTTP: in-flight attempts never lock
an account, guesses get exactly security.max_login_attempts checks, dead attempts expire."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import ClientTimeout
from aiohttp.test_utils import TestClient

from models import users
from server.core.config import Config
from tests._app import Clock, build_app
from tests.handlers._auth import AUTH, PASSWORD, clocked_client, db_of, register

WRONG = "Wr0ng!Passw0rd"
REAL_COST = {"bcrypt_rounds": 12}


async def status_of(client: TestClient, password: str,  # type: ignore[type-arg]
                    email: str = "ada@example.com") -> int:
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    await resp.read()
    return resp.status


async def at_once(client: TestClient, password: str, count: int) -> list[int]:  # type: ignore[type-arg]
    return sorted(await asyncio.gather(*(status_of(client, password) for _ in range(count))))


class TestConcurrentLoginsAtRealCost:
    async def test_twelve_simultaneous_correct_logins_all_succeed(
            self, make_client: Any, make_config: Callable[..., Config]) -> None:
        client = await make_client(make_config(security=REAL_COST))
        await register(client)
        # Twelve in flight > five allowed attempts: the extra ones wait for a slot, none fails.
        assert await at_once(client, PASSWORD, 12) == [200] * 12
        doc = await db_of(client).users.find_one({})
        assert doc["lockUntil"] is None
        assert doc["loginAttempts"] == 0
        assert len(doc["activeSessions"]) == 5  # the session cap still holds

    async def test_twenty_simultaneous_wrong_logins_get_exactly_five_checks(
            self, make_client: Any, make_config: Callable[..., Config]) -> None:
        client = await make_client(make_config(security=REAL_COST))
        await register(client)
        assert await at_once(client, WRONG, 20) == [401] * 5 + [423] * 15
        doc = await db_of(client).users.find_one({})
        assert doc["loginAttempts"] == 5
        assert doc["lockUntil"] is not None
        assert await status_of(client, PASSWORD) == 423


class TestDeadAttempts:
    async def test_a_reservation_never_settled_frees_its_slot_when_its_lease_ends(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        await register(client)
        # What a worker killed in the middle of five password checks leaves behind: five
        # reservations that nobody will ever settle.
        for n in range(config.security.max_login_attempts):
            await users.reserve_login_attempt(db_of(client), "ada@example.com", f"dead{n}",
                                              clock(), config.security)
        login = asyncio.create_task(status_of(client, PASSWORD))
        await asyncio.sleep(0.5)
        assert not login.done()  # no 423: the account is not locked, the login waits
        clock.advance(config.security.login_attempt_lease + timedelta(seconds=1))
        assert await asyncio.wait_for(login, 10) == 200
        doc = await db_of(client).users.find_one({})
        assert doc["lockUntil"] is None
        assert doc["loginPending"] == []

    async def test_a_request_cancelled_mid_bcrypt_releases_its_slot(
            self, aiohttp_client: Any, make_config: Callable[..., Config]) -> None:
        config = make_config(security=REAL_COST)
        client = await _cancelling_client(aiohttp_client, config)
        await register(client)
        for _ in range(config.security.max_login_attempts):
            await _abandoned_login(client, 0.05)  # bcrypt at cost 12 takes far longer
        await _until_no_pending(client)
        assert await status_of(client, PASSWORD) == 200

    async def test_a_request_cancelled_at_any_moment_leaves_no_slot_held(
            self, aiohttp_client: Any, make_config: Callable[..., Config]) -> None:
        # Room for every step's guess: a wrong login now ends in ~10 ms at cost 4 (it checks
        # before it takes its slot), so the later steps are answered failures, and five of
        # those would lock the account. A held slot is what _until_no_pending looks for.
        config = make_config(security={"max_login_attempts": 32})
        client = await _cancelling_client(aiohttp_client, config)
        await register(client)
        # Walk the cancellation through the first milliseconds of a login: before, during
        # and after the reservation's round trip (a release sent while the reservation is
        # still on its way would free nothing).
        for step in range(16):
            await _abandoned_login(client, 0.001 * (step + 1))
        await _until_no_pending(client)
        assert await status_of(client, PASSWORD) == 200


async def _cancelling_client(aiohttp_client: Any, config: Config) -> TestClient:  # type: ignore[type-arg]
    """The real app with a frozen clock (only a release, never a lease running out, frees a
    slot) whose handlers are cancelled when their client goes away (aiohttp's
    handler_cancellation, as at shutdown): an attempt dies between reserving and settling."""
    app = build_app(config, clock=Clock())
    return await aiohttp_client(app, server_kwargs={"handler_cancellation": True})  # type: ignore[no-any-return]


async def _abandoned_login(client: TestClient, after: float) -> None:  # type: ignore[type-arg]
    with contextlib.suppress(TimeoutError):
        await client.post(f"{AUTH}/login", timeout=ClientTimeout(total=after),
                          json={"email": "ada@example.com", "password": WRONG})


async def _until_no_pending(client: TestClient) -> None:  # type: ignore[type-arg]
    for _ in range(100):
        doc = await db_of(client).users.find_one({})
        if not doc.get("loginPending"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"reservations still held: {doc.get('loginPending')}")

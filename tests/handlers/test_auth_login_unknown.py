"""Failed logins on an unknown address answer exactly like those on a known account, lock
included, so a run of failures never tells whether an account exists."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from server.core.config import Config
from tests.handlers._auth import AUTH, PASSWORD, clocked_client, db_of, register

WRONG = "Wr0ng!Passw0rd"
KNOWN, UNKNOWN = "ada@example.com", "nobody@example.com"
VOLATILE_HEADERS = {"x-request-id", "date"}


async def answer(client: TestClient, email: str,  # type: ignore[type-arg]
                 password: str = WRONG) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers (minus request id and date) and body (minus request id and time)."""
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    body = await resp.json()
    headers = {k.lower(): v for k, v in resp.headers.items()
               if k.lower() not in VOLATILE_HEADERS}
    return resp.status, headers, {k: v for k, v in body.items()
                                  if k not in ("requestId", "timestamp")}


async def failures(client: TestClient, email: str, count: int) -> list[Any]:  # type: ignore[type-arg]
    return [await answer(client, email) for _ in range(count)]


class TestUnknownAddressLockout:
    async def test_the_same_failures_answer_the_same_for_known_and_unknown(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)  # frozen: same Retry-After
        await register(client)
        n = config.security.max_login_attempts
        known = await failures(client, KNOWN, n + 2)
        unknown = await failures(client, UNKNOWN, n + 2)
        assert [status for status, _, _ in known] == [401] * n + [423] * 2
        assert known == unknown
        assert known[-1][1]["retry-after"] == "7200"
        # Each lock runs out after lock_duration alike, and the count starts afresh.
        clock.advance(config.security.lock_duration + timedelta(seconds=1))
        assert await failures(client, KNOWN, 1) == await failures(client, UNKNOWN, 1)
        assert (await answer(client, KNOWN, PASSWORD))[0] == 200

    async def test_twenty_simultaneous_guesses_on_an_unknown_address_get_five(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        results = await asyncio.gather(*(answer(client, UNKNOWN) for _ in range(20)))
        assert sorted(status for status, _, _ in results) == [401] * 5 + [423] * 15

    async def test_the_address_is_counted_canonically_and_never_stored(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        for email in ("Nobody@Example.com", " nobody@EXAMPLE.com", UNKNOWN, UNKNOWN, UNKNOWN):
            assert (await answer(client, email))[0] == 401
        assert (await answer(client, UNKNOWN))[0] == 423
        stored = await db_of(client).login_failures.find().to_list(None)
        assert len(stored) == 1
        assert "nobody" not in repr(stored).lower()
        assert stored[0]["expiresAt"] is not None

    async def test_failures_are_forgotten_alike_after_failed_login_ttl(
            self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        await register(client)
        n = config.security.max_login_attempts
        assert await failures(client, KNOWN, n - 1) == await failures(client, UNKNOWN, n - 1)
        clock.advance(config.security.failed_login_ttl)
        known = await failures(client, KNOWN, n + 1)
        assert [status for status, _, _ in known] == [401] * n + [423]
        assert known == await failures(client, UNKNOWN, n + 1)

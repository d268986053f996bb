"""POST /api/v1/auth/login over HTTP: success, failures alike, lockout (also under concurrency)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.config import Config, with_overrides
from server.observability.metrics import METRICS
from tests._app import bearer
from tests.handlers._auth import AUTH, PASSWORD, clocked_client, db_of, login, register

WRONG = "Wr0ng!Passw0rd"


async def attempt(client: TestClient, password: str,  # type: ignore[type-arg]
                  email: str = "ada@example.com") -> tuple[int, dict[str, Any], Any]:
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    return resp.status, await resp.json(), resp


def auth_events(client: TestClient, event: str) -> float:  # type: ignore[type-arg]
    value = client.app[METRICS].registry.get_sample_value(  # type: ignore[index]
        "gatehouse_auth_events_total", {"event": event})
    return value or 0.0


def volatile_free(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("requestId", "timestamp")}


class TestLoginSuccess:
    async def test_returns_user_with_last_login_token_and_cookie(self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register(client)
        status, body, resp = await attempt(client, PASSWORD, "  ADA@example.com ")
        assert status == 200
        assert body["message"] == "Login successful"
        assert body["data"]["user"]["email"] == "ada@example.com"
        assert body["data"]["user"]["lastLogin"].endswith("Z")
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith("refreshToken=")
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        me = await client.get(f"{AUTH}/sessions", headers=bearer(body["data"]["accessToken"]))
        assert me.status == 200

    async def test_counts_and_logs_a_success(self, client: TestClient,  # type: ignore[type-arg]
                                             caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        await register(client)
        await login(client)
        assert auth_events(client, "login_ok") == 1
        assert any(r.getMessage() == "login_succeeded" for r in caplog.records)
        assert PASSWORD not in caplog.text

    async def test_upgrades_the_hash_when_bcrypt_rounds_change(
            self, client: TestClient, config: Config, make_client: Any) -> None:  # type: ignore[type-arg]
        await register(client)
        stronger = await make_client(with_overrides(config, security={"bcrypt_rounds": 5}))
        await login(stronger)
        doc = await db_of(stronger).users.find_one({"email": "ada@example.com"})
        assert doc["password"].startswith("$2b$05$")
        await login(stronger)  # the upgraded hash still verifies


class TestLoginFailure:
    async def test_wrong_password_and_unknown_email_answer_alike(self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register(client)
        wrong = await attempt(client, WRONG)
        unknown = await attempt(client, WRONG, "nobody@example.com")
        assert wrong[0] == unknown[0] == 401
        assert volatile_free(wrong[1]) == volatile_free(unknown[1])
        assert wrong[1]["error"] == "Invalid email or password"
        assert "Set-Cookie" not in wrong[2].headers

    async def test_failures_are_counted_and_logged_without_the_password(
            self, client: TestClient, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[type-arg]
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        await register(client)
        await attempt(client, WRONG)
        await attempt(client, WRONG, "nobody@example.com")
        assert auth_events(client, "login_failed") == 2
        assert [r.getMessage() for r in caplog.records].count("login_failed") == 2
        assert WRONG not in caplog.text

    async def test_deactivated_account_is_403(self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register(client)
        await db_of(client).users.update_one({}, {"$set": {"isActive": False}})
        for _ in range(7):  # the right password never counts toward a lock
            status, body, _ = await attempt(client, PASSWORD)
            assert status == 403
            assert body["error"] == "Account is deactivated"

    async def test_missing_password_is_400(self, client: TestClient) -> None:  # type: ignore[type-arg]
        resp = await client.post(f"{AUTH}/login", json={"email": "ada@example.com"})
        assert resp.status == 400


class TestLockout:
    async def test_five_failures_then_423_even_with_the_right_password(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register(client)
        for _ in range(5):
            assert (await attempt(client, WRONG))[0] == 401
        status, body, resp = await attempt(client, PASSWORD)
        assert status == 423
        assert "locked" in body["error"]
        assert body["code"] == "ACCOUNT_LOCKED"
        assert 7190 <= int(resp.headers["Retry-After"]) <= 7200
        assert (await attempt(client, WRONG))[0] == 423
        assert auth_events(client, "lockout") == 1

    async def test_a_success_resets_the_count(self, client: TestClient) -> None:  # type: ignore[type-arg]
        await register(client)
        for _ in range(4):
            await attempt(client, WRONG)
        await login(client)
        for _ in range(4):
            assert (await attempt(client, WRONG))[0] == 401
        assert (await attempt(client, PASSWORD))[0] == 200

    async def test_the_lock_ends_after_lock_duration(self, aiohttp_client: Any,
                                                     config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        await register(client)
        for _ in range(5):
            await attempt(client, WRONG)
        assert (await attempt(client, PASSWORD))[0] == 423
        clock.advance(timedelta(hours=1))
        _, _, resp = await attempt(client, PASSWORD)
        assert 3590 <= int(resp.headers["Retry-After"]) <= 3600
        clock.advance(timedelta(hours=1, seconds=1))
        assert (await attempt(client, PASSWORD))[0] == 200
        doc = await db_of(client).users.find_one({})
        assert doc["loginAttempts"] == 0
        assert doc["lockUntil"] is None

    async def test_after_the_lock_a_fresh_budget_of_attempts(self, aiohttp_client: Any,
                                                             config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        await register(client)
        for _ in range(5):
            await attempt(client, WRONG)
        clock.advance(timedelta(hours=2, seconds=1))
        for _ in range(4):
            assert (await attempt(client, WRONG))[0] == 401
        assert (await attempt(client, WRONG))[0] == 401
        assert (await attempt(client, PASSWORD))[0] == 423

    async def test_lock_is_logged(self, client: TestClient,  # type: ignore[type-arg]
                                  caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        await register(client)
        for _ in range(5):
            await attempt(client, WRONG)
        assert [r.getMessage() for r in caplog.records].count("account_locked") == 1


class TestLockoutUnderConcurrency:
    async def test_twenty_simultaneous_guesses_get_five_tries_and_one_lock(
            self, client: TestClient, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[type-arg]
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        await register(client)
        results = await asyncio.gather(*(attempt(client, WRONG) for _ in range(20)))
        statuses = sorted(status for status, _, _ in results)
        # Each attempt is counted atomically before bcrypt: exactly the allowed five tries.
        assert statuses == [401] * 5 + [423] * 15
        doc = await db_of(client).users.find_one({})
        assert doc["loginAttempts"] == 5
        assert doc["lockUntil"] is not None
        assert auth_events(client, "lockout") == 1
        assert [r.getMessage() for r in caplog.records].count("account_locked") == 1
        assert (await attempt(client, PASSWORD))[0] == 423

"""Rate limits over HTTP, for each shared store: headers, 429s, windows, budgets, client IP."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest

from tests._app import PING
from tests._rate_limit import aligned_clock, signed_in
from tests.conftest import METRICS_AUTH

LOGIN = "/api/v1/auth/login"
TOO_MANY = "Too many requests from this IP, please try again later"


def limits(response: Any) -> tuple[int, int, int]:
    h = response.headers
    return int(h["RateLimit-Limit"]), int(h["RateLimit-Remaining"]), int(h["RateLimit-Reset"])


class TestHeaders:
    async def test_every_api_response_counts_down(self, limited: Any, limited_client: Any) -> None:
        client = await limited_client(limited(max=5))
        seen = []
        for _ in range(3):
            response = await client.get(PING)
            assert response.status == 200
            seen.append(limits(response))
        assert [remaining for _, remaining, _ in seen] == [4, 3, 2]
        assert all(limit == 5 for limit, _, _ in seen)
        assert all(0 < reset <= 15 * 60 for _, _, reset in seen)

    async def test_errors_under_api_carry_headers_and_count(self, limited: Any,
                                                           limited_client: Any) -> None:
        client = await limited_client(limited(max=5))
        missing = await client.get("/api/v1/no-such-route")
        assert missing.status == 404
        assert limits(missing)[1] == 4
        assert limits(await client.get(PING))[1] == 3

    async def test_outside_api_is_not_limited(self, limited: Any, limited_client: Any) -> None:
        client = await limited_client(limited(max=1))
        for _ in range(3):
            response = await client.get("/health")
            assert response.status == 200
            assert "RateLimit-Limit" not in response.headers
        assert limits(await client.get(PING))[1] == 0


class TestRejection:
    async def test_over_budget_is_429_with_retry_after(self, limited: Any,
                                                       limited_client: Any) -> None:
        client = await limited_client(limited(max=2))
        assert [(await client.get(PING)).status for _ in range(2)] == [200, 200]
        response = await client.get(PING)
        assert response.status == 429
        body = await response.json()
        assert body["success"] is False
        assert body["error"] == TOO_MANY
        assert body["code"] == "RATE_LIMITED"
        assert body["requestId"] == response.headers["X-Request-ID"]
        retry = int(response.headers["Retry-After"])
        assert body["retryAfter"] == retry
        assert 0 < retry <= 15 * 60
        assert limits(response) == (2, 0, retry)
        # Security headers still stamped on the rejection.
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    async def test_rejection_is_counted_and_logged(self, limited: Any, limited_client: Any,
                                                  caplog: pytest.LogCaptureFixture) -> None:
        client = await limited_client(limited(max=1))
        await client.get(PING)
        with caplog.at_level(logging.INFO, logger="gatehouse.security"):
            rejected = await client.get(PING, headers={"Authorization": "Bearer not-a-jwt"})
        assert rejected.status == 429
        events = [r for r in caplog.records if getattr(r, "fields", {}).get("event")
                  == "rate_limited"]
        assert len(events) == 1
        fields = events[0].fields  # type: ignore[attr-defined]
        assert fields["budget"] == "ip"
        assert fields["requestId"] == rejected.headers["X-Request-ID"]
        assert "not-a-jwt" not in str(fields)
        text = await (await client.get("/metrics", headers=METRICS_AUTH)).text()
        assert 'gatehouse_rate_limit_rejections_total{budget="ip"} 1.0' in text

    async def test_rejected_requests_stay_rejected(self, limited: Any, limited_client: Any) -> None:
        client = await limited_client(limited(max=1))
        statuses = [(await client.get(PING)).status for _ in range(5)]
        assert statuses == [200, 429, 429, 429, 429]


class TestWindowReset:
    async def test_budget_returns_when_the_window_ends(self, limited: Any,
                                                       limited_client: Any) -> None:
        client = await limited_client(limited(max=2, window="2s"))
        for _ in range(2):
            assert (await client.get(PING)).status == 200
        rejected = await client.get(PING)
        assert rejected.status == 429
        retry = int(rejected.headers["Retry-After"])
        assert retry <= 2
        await asyncio.sleep(retry + 0.1)
        fresh = await client.get(PING)
        assert fresh.status == 200
        assert limits(fresh)[1] == 1


class TestCredentialBudget:
    async def test_credential_routes_share_a_tighter_budget(self, limited: Any,
                                                           limited_client: Any) -> None:
        client = await limited_client(limited(max=20, auth_max=3))
        first = await client.post(LOGIN, json={})
        assert first.status != 429
        # The tighter budget is the one shown.
        assert limits(first)[:2] == (3, 2)
        await client.post("/api/v1/auth/forgot-password", json={})
        await client.post("/api/v1/auth/reset-password/abc", json={})
        rejected = await client.post("/api/v1/auth/register", json={})
        assert rejected.status == 429
        assert limits(rejected)[:2] == (3, 0)
        # Other routes still answer, showing the general per-IP budget: 3 credential calls
        # and this one (the refused call was turned away before any counter moved).
        other = await client.get(PING)
        assert other.status == 200
        assert limits(other)[:2] == (20, 16)

    async def test_other_routes_do_not_spend_the_credential_budget(self, limited: Any,
                                                                   limited_client: Any) -> None:
        client = await limited_client(limited(max=20, auth_max=2))
        for _ in range(5):
            await client.get(PING)
        response = await client.post(LOGIN, json={})
        assert response.status != 429
        assert limits(response)[:2] == (2, 1)


    async def test_retry_after_waits_for_every_exceeded_budget(self, limited: Any,
                                                               limited_client: Any) -> None:
        config = limited(max=2, auth_max=2, window="15m", auth_window="1h")
        client = await limited_client(config, aligned_clock(timedelta(hours=1)))
        for _ in range(2):
            assert (await client.post(LOGIN, json={})).status != 429
        for _ in range(2):  # refused by both budgets: by the spent-key shortcut too
            rejected = await client.post(LOGIN, json={})
            assert rejected.status == 429
            assert 15 * 60 < int(rejected.headers["Retry-After"]) <= 60 * 60
            assert limits(rejected)[:2] == (2, 0)
        # The general budget alone frees up sooner.
        other = await client.get(PING)
        assert other.status == 429
        assert int(other.headers["Retry-After"]) <= 15 * 60


class TestUserBudget:
    async def test_signed_in_user_has_own_budget(self, limited: Any, limited_client: Any) -> None:
        config = limited(max=50, user_max=2)
        client = await limited_client(config)
        alice = signed_in(client.app, config, "a" * 24)
        seen = [await client.get(PING, headers=alice) for _ in range(3)]
        assert [r.status for r in seen] == [200, 200, 429]
        assert limits(seen[0])[:2] == (2, 1)
        body = await seen[2].json()
        assert body["code"] == "RATE_LIMITED"
        # Another user from the same IP is unaffected, and so are anonymous calls.
        bob = await client.get(PING, headers=signed_in(client.app, config, "b" * 24))
        assert bob.status == 200
        assert limits(bob)[:2] == (2, 1)
        anonymous = await client.get(PING)
        assert anonymous.status == 200
        assert limits(anonymous)[:2] == (50, 46)
        text = await (await client.get("/metrics", headers=METRICS_AUTH)).text()
        assert 'gatehouse_rate_limit_rejections_total{budget="user"} 1.0' in text

    async def test_expired_token_stops_counting_per_user(self, limited: Any,
                                                         limited_client: Any) -> None:
        config = limited(max=50, user_max=5)
        now = [aligned_clock(timedelta(minutes=15))()]
        client = await limited_client(config, lambda: now[0])
        alice = signed_in(client.app, config, "a" * 24)
        assert limits(await client.get(PING, headers=alice))[:2] == (5, 4)
        # Past the token's 15 minutes (and into new windows): the token no longer names a
        # user, even though the limiter has seen it verified before.
        now[0] += timedelta(minutes=16)
        later = await client.get(PING, headers=alice)
        assert later.status == 200
        assert limits(later)[:2] == (50, 49)

    async def test_invalid_token_only_counts_per_ip(self, limited: Any,
                                                    limited_client: Any) -> None:
        client = await limited_client(limited(max=10, user_max=1))
        for _ in range(3):
            response = await client.get(PING, headers={"Authorization": "Bearer x.y.z"})
            assert response.status == 200
        assert limits(response)[:2] == (10, 7)


class TestClientIp:
    async def test_forwarded_for_is_ignored_without_trust_proxy(self, limited: Any,
                                                               limited_client: Any) -> None:
        client = await limited_client(limited(max=2))
        statuses = [(await client.get(PING, headers={"X-Forwarded-For": f"10.0.0.{i}"})).status
                    for i in range(3)]
        assert statuses == [200, 200, 429]

    async def test_trusted_proxy_uses_only_the_last_hop(self, limited: Any,
                                                        limited_client: Any) -> None:
        client = await limited_client(limited(max=2, environ={"APP__SERVER__TRUST_PROXY": "1"}))
        # The client controls everything left of what our proxy appended.
        spoofed = [f"10.0.0.{i}, 203.0.113.7" for i in range(3)]
        statuses = [(await client.get(PING, headers={"X-Forwarded-For": xff})).status
                    for xff in spoofed]
        assert statuses == [200, 200, 429]
        other = await client.get(PING, headers={"X-Forwarded-For": "10.0.0.1, 198.51.100.2"})
        assert other.status == 200
        assert limits(other)[1] == 1

    async def test_two_trusted_hops_take_the_second_from_the_right(self, limited: Any,
                                                                  limited_client: Any) -> None:
        client = await limited_client(limited(max=2, environ={"APP__SERVER__TRUST_PROXY": "2"}))
        # Client-chosen entries first, then the client as our outer proxy saw it, then the
        # address our inner proxy appended.
        chains = [f"10.9.9.{i}, 203.0.113.7, 10.0.0.{i}" for i in range(3)]
        statuses = [(await client.get(PING, headers={"X-Forwarded-For": xff})).status
                    for xff in chains]
        assert statuses == [200, 200, 429]

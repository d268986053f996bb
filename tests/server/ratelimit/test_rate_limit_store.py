"""The rate-limit stores: exact under concurrency, few round trips, 503 when down, memory rules."""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from pymongo import monitoring

from models import rate_limits
from server.core.clock import utcnow
from server.core.config import Config, load_config
from server.core.config_values import ConfigError
from server.db import DB, make_client
from server.runtime.embedded_db import EmbeddedDb, free_port
from tests._app import PING
from tests._rate_limit import limit_env, signed_in, start_redis
from tests.conftest import TEST_CONFIG

UNAVAILABLE = "Service temporarily unavailable"


class CommandCounter(monitoring.CommandListener):
    """The driver's command monitoring: counts commands every client sends, by name and
    collection (other layers, such as the mail outbox, poll with findAndModify too)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[tuple[str, Any]] = collections.Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        target = event.command.get(name)  # the collection; other types for some commands
        self.counts[name, target if isinstance(target, str) else None] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@functools.cache
def command_counter() -> CommandCounter:
    """Registered globally, so it sees the app's own client (created later, in mongo_ctx);
    pymongo has no unregister, hence once per run and only when a test asks for it."""
    counter = CommandCounter()
    monitoring.register(counter)
    return counter


@pytest.fixture
def mongo_ops() -> Callable[[], int]:
    """Commands on rate_limits since the fixture started: one findAndModify per counter
    and request, plus a miss and an insert when a counter is first created."""
    counts = command_counter().counts
    keys = [(name, rate_limits.COLLECTION) for name in ("findAndModify", "insert")]
    start = sum(counts[key] for key in keys)
    return lambda: sum(counts[key] for key in keys) - start


def redis_round_trips(url: str) -> int:
    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
               for name in ("evalsha", "eval"))


async def burst(client: Any, count: int, headers: dict[str, str] | None = None) -> list[int]:
    responses = await asyncio.gather(*(client.get(PING, headers=headers) for _ in range(count)))
    return [r.status for r in responses]


class TestExactness:
    async def test_concurrent_requests_allow_exactly_the_budget(self, limited: Any,
                                                                limited_client: Any) -> None:
        client = await limited_client(limited(max=20))
        statuses = await burst(client, 60)
        assert statuses.count(200) == 20
        assert statuses.count(429) == 40

    async def test_concurrent_users_allow_exactly_their_budget(self, limited: Any,
                                                               limited_client: Any) -> None:
        config = limited(max=500, user_max=7)
        client = await limited_client(config)
        statuses = await burst(client, 30, signed_in(client.app, config, "c" * 24))
        assert statuses.count(200) == 7


class TestCounterCreationRace:
    async def test_clients_creating_one_counter_at_once_get_distinct_totals(
            self, config: Config) -> None:
        # Separate clients, as separate workers or hosts would be: new counters are where
        # concurrent upserts used to race (a lost total on the embedded database).
        clients = [make_client(config.mongodb.uri, 2.0, 4) for _ in range(4)]
        dbs = [client[config.mongodb.database] for client in clients]
        expires = utcnow() + timedelta(minutes=5)
        try:
            for round_no in range(8):
                key = f"race:{round_no}"
                totals = await asyncio.gather(*(rate_limits.increment(dbs[i % 4], key, 1, expires)
                                                for i in range(12)))
                assert sorted(totals) == list(range(1, 13))
        finally:
            for client in clients:
                client.close()


class TestExpiry:
    """Counters outlive their window by one more, so a host whose clock lags a little
    behind still finds the count instead of starting a fresh one at zero."""

    async def test_mongodb_counter_expires_a_window_after_its_end(
            self, make_config: Any, limited_client: Any) -> None:
        config = make_config(environ=limit_env("mongodb", window="60s"))
        client = await limited_client(config, utcnow)
        assert (await client.get(PING)).status == 200
        doc = await client.app[DB][rate_limits.COLLECTION].find_one({"_id": {"$regex": "^ip:"}})
        left = (doc["expiresAt"] - utcnow()).total_seconds()
        assert 60 < left <= 120

    async def test_redis_counter_expires_a_window_after_its_end(
            self, make_config: Any, limited_client: Any, redis_url: str) -> None:
        config = make_config(environ=limit_env("redis", redis_url, window="60s"))
        client = await limited_client(config, utcnow)
        assert (await client.get(PING)).status == 200
        store = redis.Redis.from_url(redis_url)
        [key] = store.keys("ip:*")
        assert 60_000 < store.pttl(key) <= 120_000
        store.close()


class TestMongoCost:
    async def test_one_update_per_budget_per_request(self, make_config: Any, limited_client: Any,
                                                     mongo_ops: Callable[[], int]) -> None:
        config = make_config(environ=limit_env("mongodb", max=100))
        client = await limited_client(config)
        for _ in range(10):
            assert (await client.get(PING)).status == 200
        created = 2  # the first request's miss and insert
        assert mongo_ops() == 10 + created
        user = signed_in(client.app, config, "d" * 24)
        for _ in range(10):
            assert (await client.get(PING, headers=user)).status == 200
        assert mongo_ops() == 10 + created + 2 * 10 + created

    async def test_concurrent_increments_are_coalesced(self, make_config: Any, limited_client: Any,
                                                       mongo_ops: Callable[[], int]) -> None:
        client = await limited_client(make_config(environ=limit_env("mongodb", max=1000)))
        statuses = await burst(client, 100)
        assert statuses == [200] * 100
        assert mongo_ops() <= 25

    async def test_a_spent_budget_costs_no_round_trip(self, make_config: Any, limited_client: Any,
                                                      mongo_ops: Callable[[], int]) -> None:
        client = await limited_client(make_config(environ=limit_env("mongodb", max=3)))
        statuses = [(await client.get(PING)).status for _ in range(20)]
        assert statuses == [200] * 3 + [429] * 17
        assert mongo_ops() == 3 + 2


class TestRedisCost:
    async def test_one_script_call_per_request(self, make_config: Any, limited_client: Any,
                                               redis_url: str) -> None:
        config = make_config(environ=limit_env("redis", redis_url, max=100))
        client = await limited_client(config)
        before = redis_round_trips(redis_url)
        user = signed_in(client.app, config, "e" * 24)
        for _ in range(10):
            assert (await client.get(PING, headers=user)).status == 200
        # Both budgets of a request in one script call; +1 for the first EVALSHA that
        # finds the script not yet loaded.
        assert 10 <= redis_round_trips(redis_url) - before <= 11


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung store)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
async def own_mongo() -> AsyncIterator[EmbeddedDb]:
    """A database of this test's own, so it can be stopped under a running app."""
    db = EmbeddedDb(":memory:")
    await asyncio.to_thread(db.start)
    yield db
    await asyncio.to_thread(db.stop)


async def eventually_ok(client: Any, seconds: float = 15.0) -> bool:
    """True once PING answers 200 with rate-limit headers (the driver reconnects itself)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = await client.get(PING)
        if response.status == 200:
            return "RateLimit-Remaining" in response.headers
        await asyncio.sleep(0.2)
    return False


class TestStoreDown:
    async def assert_quick_503(self, client: Any) -> None:
        started = time.monotonic()
        response = await client.get(PING)
        elapsed = time.monotonic() - started
        assert response.status == 503
        body = await response.json()
        assert body["error"] == UNAVAILABLE
        assert body["code"] == "SERVICE_UNAVAILABLE"
        assert elapsed < 3.0
        assert (await client.get("/health")).status == 200  # only /api/ needs the store

    async def test_mongodb_down(self, make_config: Any, limited_client: Any,
                                own_mongo: EmbeddedDb) -> None:
        client = await limited_client(make_config(environ={
            **limit_env("mongodb", timeout="1s"), "APP__MONGODB__URI": own_mongo.uri}))
        assert (await client.get(PING)).status == 200
        await asyncio.to_thread(own_mongo.stop)
        await self.assert_quick_503(client)

    async def test_mongodb_back_means_limits_back(self, make_config: Any, limited_client: Any,
                                                  own_mongo: EmbeddedDb) -> None:
        client = await limited_client(make_config(environ={
            **limit_env("mongodb", timeout="1s"), "APP__MONGODB__URI": own_mongo.uri}))
        await asyncio.to_thread(own_mongo.stop)
        assert (await client.get(PING)).status == 503
        await asyncio.to_thread(own_mongo.start)
        assert await eventually_ok(client)

    async def test_redis_back_means_limits_back(self, make_config: Any,
                                                limited_client: Any) -> None:
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        client = await limited_client(make_config(environ=limit_env("redis", url, timeout="1s")))
        assert (await client.get(PING)).status == 503
        process, _ = await asyncio.to_thread(start_redis, port)
        try:
            assert await eventually_ok(client)
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 10)

    async def test_redis_refusing_connections(self, make_config: Any, limited_client: Any) -> None:
        url = f"redis://127.0.0.1:{free_port()}/0"
        client = await limited_client(make_config(environ=limit_env("redis", url, timeout="1s")))
        await self.assert_quick_503(client)

    async def test_redis_hanging(self, make_config: Any,
                                 limited_client: Any, blackhole: int) -> None:
        url = f"redis://127.0.0.1:{blackhole}/0"
        client = await limited_client(make_config(environ=limit_env("redis", url, timeout="1s")))
        await self.assert_quick_503(client)

    async def test_requests_queued_behind_a_hung_trip_fail_with_it(
            self, make_config: Any, limited_client: Any, blackhole: int) -> None:
        url = f"redis://127.0.0.1:{blackhole}/0"
        client = await limited_client(make_config(environ=limit_env("redis", url, timeout="2s")))
        first = asyncio.ensure_future(client.get(PING))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        second = await client.get(PING)
        # Not a second full deadline after the first one's: the answer comes with it.
        assert time.monotonic() - started < 2.0
        assert second.status == 503
        assert (await first).status == 503


class TestMemoryStore:
    def test_refused_with_several_workers(self) -> None:
        env = {**limit_env("memory"), "APP__SERVER__WORKERS": "2"}
        with pytest.raises(ConfigError, match=r"^rate_limit\.store: .*server\.workers = 1"):
            load_config(TEST_CONFIG, env)

    def test_refused_in_production(self) -> None:
        env = {**limit_env("memory"), "APP__ENVIRONMENT": "production",
               "APP__MONGODB__URI": "mongodb://127.0.0.1:1"}
        with pytest.raises(ConfigError, match=r"^rate_limit\.store: memory is for development"):
            load_config(TEST_CONFIG, env)

    async def test_single_worker_warns_and_limits(self, make_config: Any, limited_client: Any,
                                                  caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING, logger="gatehouse"):
            client = await limited_client(make_config(environ=limit_env("memory", max=2)))
        assert any("memory" in r.getMessage() and "single-worker" in r.getMessage()
                   for r in caplog.records)
        assert sorted(await burst(client, 3)) == [200, 200, 429]

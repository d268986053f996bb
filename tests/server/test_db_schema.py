"""The schema step (server/db.py): indexes and migrations applied exactly once per database,
whoever races for it, under a lease that a crashed holder cannot keep forever."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from models import migrations as schema
from models.migrations import Migration
from server.core.clock import utcnow
from server.core.config import Config
from server.db import MODELS, index_fingerprint, make_client, prepare_schema
from tests.conftest import METRICS_AUTH

MARKERS = "migration_markers"


def counting(version: int, pause_s: float = 0.0) -> Migration:
    """A migration that counts its runs in the database (and takes `pause_s` doing it, so
    racers overlap)."""

    async def apply(db: Any) -> None:
        await db[MARKERS].update_one({"_id": version}, {"$inc": {"runs": 1}}, upsert=True)
        await asyncio.sleep(pause_s)

    return Migration(version, f"count {version}", apply)


async def runs(db: Any) -> dict[int, int]:
    return {doc["_id"]: doc["runs"] async for doc in db[MARKERS].find()}


@pytest.fixture
async def handles(config: Config) -> AsyncIterator[Callable[[], Any]]:
    """Database handles on the test's database, each on a client of its own (a process)."""
    clients: list[Any] = []

    def handle() -> Any:
        clients.append(make_client(config.mongodb.uri, 2.0, 5))
        return clients[-1][config.mongodb.database]

    yield handle
    for client in clients:
        client.close()


async def create_indexes_sent(client: Any) -> float:
    resp = await client.get("/metrics", headers=METRICS_AUTH)
    for family in text_string_to_metric_families(await resp.text()):
        for sample in family.samples:
            if sample.labels == {"command": "createIndexes"}:
                return sample.value
    return 0.0


async def held_by(db: Any, holder: str) -> None:
    # Polling: the lease lives in the database, nothing notifies us of it.
    while (await schema.read(db)).holder != holder:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


async def wait_ready(client: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (await client.get("/health/ready")).status != 200:
        assert time.monotonic() < deadline, "not ready in time"
        await asyncio.sleep(0.05)


class TestExactlyOnce:
    async def test_two_apps_on_one_database_build_the_indexes_once(
        self, make_client: Callable[..., Any], config: Config, handles: Callable[[], Any]
    ) -> None:
        first, second = await asyncio.gather(make_client(config), make_client(config))
        await asyncio.gather(wait_ready(first), wait_ready(second))
        sent = [await create_indexes_sent(first), await create_indexes_sent(second)]
        # One createIndexes per indexed collection, all from one app.
        assert sorted(sent) == [0, len([m for m in MODELS if m.INDEXES])]
        doc = await handles()[schema.COLLECTION].find_one({"_id": "schema"})
        assert doc["indexRuns"] == 1
        assert doc["indexes"] == index_fingerprint()
        assert doc["lease"] is None

    async def test_six_racers_apply_each_migration_once(self, handles: Callable[[], Any]) -> None:
        plan = (counting(1, pause_s=0.3), counting(2))
        results = await asyncio.gather(*(prepare_schema(handles(), plan, holder=f"racer-{n}")
                                         for n in range(6)))
        db = handles()
        assert await runs(db) == {1: 1, 2: 1}
        assert [r.indexes_built for r in results].count(True) == 1
        assert [r.migrations for r in results if r.migrations] == [("count 1", "count 2")]
        state = await schema.read(db)
        assert (state.version, state.indexes, state.holder) == (2, index_fingerprint(), None)

    async def test_a_new_migration_runs_alone_on_a_prepared_database(
        self, handles: Callable[[], Any]
    ) -> None:
        db = handles()
        await prepare_schema(db, (counting(1),))
        again = await prepare_schema(db, (counting(1), counting(2)))
        assert (again.migrations, again.indexes_built) == (("count 2",), False)
        assert await runs(db) == {1: 1, 2: 1}
        doc = await db[schema.COLLECTION].find_one({"_id": "schema"})
        assert [entry["version"] for entry in doc["applied"]] == [1, 2]
        assert doc["indexRuns"] == 1


class TestLease:
    async def test_a_crashed_holders_lease_blocks_only_until_it_expires(
        self, handles: Callable[[], Any]
    ) -> None:
        db = handles()
        started = time.monotonic()
        # A holder took the lease and died: nobody renews it.
        assert await schema.acquire(db, "dead", utcnow(), timedelta(seconds=1.5)) is not None
        done = await prepare_schema(db, (counting(1),), holder="alive")
        waited = time.monotonic() - started
        assert 1.5 <= waited < 5.0
        assert done.migrations == ("count 1",)
        assert await runs(db) == {1: 1}

    async def test_a_live_holder_is_waited_for_and_its_work_not_repeated(
        self, handles: Callable[[], Any]
    ) -> None:
        plan = (counting(1, pause_s=1.0),)
        slow = asyncio.create_task(prepare_schema(handles(), plan, holder="slow"))
        await held_by(handles(), "slow")
        waiter = await prepare_schema(handles(), plan, holder="waiter")
        # The waiter returns once the holder's work is recorded and its lease released; the
        # holder's own task may still be reading the release's reply, so it is awaited.
        assert await runs(handles()) == {1: 1}
        done = await asyncio.wait_for(slow, 5)
        assert (done.migrations, waiter.migrations) == (("count 1",), ())
        assert await runs(handles()) == {1: 1}

    async def test_a_holder_keeps_a_short_lease_alive_through_a_long_migration(
        self, handles: Callable[[], Any]
    ) -> None:
        plan = (counting(1, pause_s=3.0),)
        ttl = timedelta(seconds=1.5)  # renewed every 0.5 s while the migration runs
        slow = asyncio.create_task(prepare_schema(handles(), plan, holder="slow", ttl=ttl))
        await held_by(handles(), "slow")
        await prepare_schema(handles(), plan, holder="other", ttl=ttl)
        await slow
        assert await runs(handles()) == {1: 1}

    async def test_a_holder_whose_lease_was_taken_records_nothing(
        self, handles: Callable[[], Any]
    ) -> None:
        db = handles()
        await schema.acquire(db, "late", utcnow(), timedelta(seconds=-1))  # already expired
        assert await schema.acquire(db, "next", utcnow(), timedelta(seconds=30)) is not None
        with pytest.raises(schema.LeaseLost):
            await schema.record_migration(db, "late", counting(1), utcnow())
        with pytest.raises(schema.LeaseLost):
            await schema.record_indexes(db, "late", "x", utcnow())
        assert (await schema.read(db)).version == 0

    async def test_a_failing_migration_records_nothing_and_frees_the_lease(
        self, handles: Callable[[], Any]
    ) -> None:
        async def broken(db: Any) -> None:
            raise RuntimeError("bug")

        db = handles()
        with pytest.raises(RuntimeError):
            await prepare_schema(db, (counting(1), Migration(2, "broken", broken)))
        state = await schema.read(db)
        assert (state.version, state.indexes, state.holder) == (1, None, None)
        fixed = await prepare_schema(db, (counting(1), counting(2)), holder="fixed")
        assert fixed.migrations == ("count 2",)
        assert await runs(db) == {1: 1, 2: 1}

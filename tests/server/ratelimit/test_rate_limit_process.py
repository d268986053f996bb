"""Exactness across processes: run.py workers and separate instances share one budget."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests._process import Service, wait_for
from tests._rate_limit import STORES
from tests.conftest import TEST_CONFIG

pytestmark = pytest.mark.process
BUDGET = 15
REQUESTS = 45


def access_pids(service: Service, ip: str) -> set[int]:
    """The worker pids that logged a request from `ip`."""
    return {line["pid"] for line in service.events(logger="gatehouse.access")
            if line.get("ip") == ip}


def errors(service: Service) -> list[dict[str, Any]]:
    return [line for line in service.events() if line.get("level") == "error"]


@pytest.fixture(params=STORES)
def config_file(request: pytest.FixtureRequest, tmp_path: Path, mongo_uri: str) -> Path:
    """A config sharing one store: this session's database, or a fresh redis-server."""
    data = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    data["mongodb"] = {**data["mongodb"], "uri": mongo_uri,
                       "database": f"gh_rlproc_{uuid.uuid4().hex[:10]}"}
    data["rate_limit"] = {"enabled": True, "store": request.param, "max": BUDGET,
                          "window": "1h"}
    if request.param == "redis":
        data["rate_limit"]["redis_url"] = request.getfixturevalue("redis_url")
    data["logging"] = {"level": "info", "format": "json"}
    # Each burst poses as its own client behind one trusted proxy hop: a fresh budget per round.
    data["server"] = {**data.get("server", {}), "trust_proxy": 1}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def instances() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for instance in started:
        instance.stop()


def away_from_window_edge(window_s: int = 3600, margin_s: int = 30) -> None:
    """Fixed windows are aligned to the epoch: never let a burst straddle a boundary."""
    left = window_s - time.time() % window_s
    if left < margin_s:
        time.sleep(left + 0.5)


async def fire(urls: list[str], count: int, ip: str) -> list[int]:
    """`count` concurrent GETs from client `ip`, each on a fresh connection, over `urls`."""
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    headers = {"X-Forwarded-For": ip}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> int:
            # Waves a few ms apart, overlapping: one worker's accept loop would otherwise
            # drain the whole backlog before the other wakes up.
            await asyncio.sleep(0.01 * (i % 5))
            url = f"{urls[i % len(urls)]}/api/v1/_rl/missing"
            async with session.get(url, headers=headers) as response:
                return response.status

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def admitted(statuses: list[int]) -> int:
    assert set(statuses) <= {404, 429}, statuses
    return statuses.count(404)


class TestSharedBudget:
    def test_two_workers_allow_exactly_the_budget(self, config_file: Path, tmp_path: Path,
                                                  instances: list[Service]) -> None:
        instance = Service(tmp_path, config_file, workers=2)
        instances.append(instance)
        instance.start(timeout=30)
        # /health answers once one worker serves; a burst before the other is up reaches one.
        wait_for(lambda: len(instance.ready_worker_pids()) == 2, 30, "both workers serving")
        away_from_window_edge()
        # The kernel decides which worker accepts a connection; a burst may all land on one.
        # Each round is a new client (trusted X-Forwarded-For), so a new budget: repeat until
        # a round was served by both workers. Every round must admit exactly the budget.
        for round_no in range(8):
            ip = f"10.0.{round_no}.1"
            statuses = asyncio.run(fire([instance.url], REQUESTS, ip))
            assert admitted(statuses) == BUDGET, f"round {round_no}"
            if len(access_pids(instance, ip)) == 2:
                break
        else:
            pytest.fail("no burst reached both workers")
        assert errors(instance) == []

    def test_two_instances_allow_exactly_the_budget(self, config_file: Path, tmp_path: Path,
                                                    instances: list[Service]) -> None:
        for _ in range(2):
            instances.append(Service(tmp_path, config_file, workers=1))
        for instance in instances:
            instance.start(timeout=30)
        away_from_window_edge()
        ip = "10.1.0.1"
        statuses = asyncio.run(fire([i.url for i in instances], REQUESTS, ip))
        assert admitted(statuses) == BUDGET
        for instance in instances:
            assert len(access_pids(instance, ip)) == 1
            assert errors(instance) == []

"""Exactness across processes: run.py workers and separate instances share one budget."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from server.runtime.embedded_db import free_port
from tests.conftest import TEST_CONFIG
from tests.middlewares._rate_limit import STORES, redis_server, redis_url

__all__ = ["redis_server", "redis_url"]  # fixtures used by this module

pytestmark = pytest.mark.process
ROOT = Path(__file__).resolve().parents[2]
BUDGET = 15
REQUESTS = 45


class Instance:
    """`python run.py --config F --port P --workers N`, killed with its workers at the end."""

    def __init__(self, config: Path, workers: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv
                [sys.executable, "run.py", "--config", str(config), "--port", str(self.port),
                 "--workers", str(workers)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                # Line-buffered logs: the test reads which worker served what, while it runs.
                env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"run.py exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(  # noqa: S310 - loopback
                    self.url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError("run.py did not become healthy")
            time.sleep(0.2)

    def access_pids(self, ip: str) -> set[int]:
        """The worker pids that logged a request from `ip`."""
        pids = set()
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("logger") == "gatehouse.access" and entry.get("ip") == ip:
                    pids.add(entry["pid"])
        return pids

    def errors(self) -> list[str]:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if '"level":"error"' in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


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
def instances(tmp_path: Path) -> Iterator[list[Instance]]:
    started: list[Instance] = []
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
                                                  instances: list[Instance]) -> None:
        instance = Instance(config_file, 2, tmp_path / "a.log")
        instances.append(instance)
        instance.wait_healthy()
        away_from_window_edge()
        # The kernel decides which worker accepts a connection; a burst may all land on one.
        # Each round is a new client (trusted X-Forwarded-For), so a new budget: repeat until
        # a round was served by both workers. Every round must admit exactly the budget.
        for round_no in range(8):
            ip = f"10.0.{round_no}.1"
            statuses = asyncio.run(fire([instance.url], REQUESTS, ip))
            assert admitted(statuses) == BUDGET, f"round {round_no}"
            if len(instance.access_pids(ip)) == 2:
                break
        else:
            pytest.fail("no burst reached both workers")
        assert instance.errors() == []

    def test_two_instances_allow_exactly_the_budget(self, config_file: Path, tmp_path: Path,
                                                    instances: list[Instance]) -> None:
        for name in ("a", "b"):
            instances.append(Instance(config_file, 1, tmp_path / f"{name}.log"))
        for instance in instances:
            instance.wait_healthy()
        away_from_window_edge()
        ip = "10.1.0.1"
        statuses = asyncio.run(fire([i.url for i in instances], REQUESTS, ip))
        assert admitted(statuses) == BUDGET
        for instance in instances:
            assert len(instance.access_pids(ip)) == 1
            assert instance.errors() == []

"""Ops endpoints: /health (no database), /health/ready, and 503s while the database is down."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest

from server.core import __version__
from server.runtime.embedded_db import EmbeddedDb, free_port
from tests._app import PREFIX

DEADLINE_S = 3.0
DOWN = {"status": "unavailable", "checks": {"database": "down"}}
NEVER_PREPARED = {"status": "unavailable", "checks": {"database": "down", "schema": "pending"}}
LOGIN = "/api/v1/auth/login"


@pytest.fixture
async def own_db() -> AsyncIterator[EmbeddedDb]:
    """A database of this test's own, which the test may stop, freeze and restart."""
    db = EmbeddedDb(":memory:")
    await asyncio.to_thread(db.start)
    yield db
    if db.process is not None and db.process.poll() is None:
        db.process.send_signal(signal.SIGCONT)
    await asyncio.to_thread(db.stop)


@pytest.fixture
async def own_client(own_db, make_config, make_client):
    config = make_config(environ={"APP__MONGODB__URI": own_db.uri})
    return await make_client(config, test_routes=True)


async def timed(client, path: str):
    started = time.monotonic()
    resp = await client.get(path)
    body = await resp.json()
    return resp, body, time.monotonic() - started


async def wait_until_ready(client, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if (await client.get("/health/ready")).status == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"not ready again within {within}s")


class TestLiveness:
    async def test_health_body(self, client):
        resp = await client.get("/health")
        assert resp.status == 200
        body = await resp.json()
        assert set(body) == {"status", "timestamp", "uptime", "environment", "version"}
        assert body["status"] == "healthy"
        assert body["environment"] == "test"
        assert body["version"] == __version__
        assert isinstance(body["uptime"], int | float)
        assert body["uptime"] >= 0
        assert body["timestamp"].endswith("Z")
        datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))

    async def test_uptime_grows(self, client):
        first = (await (await client.get("/health")).json())["uptime"]
        await asyncio.sleep(0.05)
        assert (await (await client.get("/health")).json())["uptime"] > first

    async def test_head_is_answered(self, client):
        resp = await client.head("/health")
        assert resp.status == 200


class TestReadiness:
    async def test_ready_when_the_database_answers(self, client):
        resp = await client.get("/health/ready")
        assert resp.status == 200
        assert await resp.json() == {"status": "ready", "checks": {"database": "up"}}


class TestDatabaseStopped:
    async def test_liveness_needs_no_database(self, own_db, own_client):
        await asyncio.to_thread(own_db.stop)
        resp, body, took = await timed(own_client, "/health")
        assert resp.status == 200
        assert body["status"] == "healthy"
        assert took < 1.0

    async def test_ready_reports_down_within_3s(self, own_db, own_client):
        await asyncio.to_thread(own_db.stop)
        resp, body, took = await timed(own_client, "/health/ready")
        assert resp.status == 503
        assert body == DOWN
        assert took < DEADLINE_S

    async def test_api_request_gets_503_within_3s(self, own_db, own_client):
        assert (await own_client.get(f"{PREFIX}/find-one")).status == 200
        await asyncio.to_thread(own_db.stop)
        for _ in range(2):  # the pooled connection's failure, then server selection's
            resp, body, took = await timed(own_client, f"{PREFIX}/find-one")
            assert resp.status == 503
            assert body["error"] == "Service temporarily unavailable"
            assert body["code"] == "SERVICE_UNAVAILABLE"
            assert body["requestId"] == resp.headers["X-Request-ID"]
            assert resp.headers["Cache-Control"] == "no-store"
            assert took < DEADLINE_S
            assert "mongo" not in str(body).lower()

    async def test_recovers_by_itself_when_the_database_returns(self, own_db, own_client):
        await asyncio.to_thread(own_db.stop)
        assert (await own_client.get("/health/ready")).status == 503
        assert (await own_client.get(f"{PREFIX}/find-one")).status == 503
        restarted = EmbeddedDb(":memory:", port=own_db.port)
        await asyncio.to_thread(restarted.start)
        try:
            await wait_until_ready(own_client, within=10)
            resp = await own_client.get(f"{PREFIX}/find-one")
            assert resp.status == 200
        finally:
            await asyncio.to_thread(restarted.stop)


def freeze_process(pid: int) -> None:
    """SIGSTOP `pid` and wait until the kernel reports it stopped: kill() only queues the
    signal, and on a busy machine the process can still answer a request or two before it
    stops (seen as a flaky `ready` 200 right after the signal)."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as stat:
            # The state follows the parenthesised command name, which may contain spaces.
            if stat.read().rpartition(")")[2].split()[0] in ("T", "t"):
                return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not stop within 5 s")


class TestDatabaseFrozen:
    """A database that accepts connections but never answers: the bound must still hold."""

    @pytest.fixture
    def freeze(self, own_db) -> Iterator[None]:
        # Thawed before the app's own teardown, which talks to the database.
        assert own_db.process is not None
        freeze_process(own_db.process.pid)
        yield
        own_db.process.send_signal(signal.SIGCONT)

    async def test_ready_and_api_answer_503_within_3s(self, own_client, request):
        assert (await own_client.get(f"{PREFIX}/find-one")).status == 200
        request.getfixturevalue("freeze")
        resp, body, took = await timed(own_client, "/health/ready")
        assert (resp.status, body) == (503, DOWN)
        assert took < DEADLINE_S
        resp, body, took = await timed(own_client, f"{PREFIX}/find-one")
        assert resp.status == 503
        assert body["error"] == "Service temporarily unavailable"
        assert took < DEADLINE_S

    async def test_recovers_when_it_thaws(self, own_db, own_client):
        assert own_db.process is not None
        freeze_process(own_db.process.pid)
        try:
            assert (await own_client.get("/health/ready")).status == 503
            # Liveness never waits on the database, even one that hangs.
            resp, body, took = await timed(own_client, "/health")
            assert (resp.status, body["status"]) == (200, "healthy")
            assert took < 0.9
        finally:
            own_db.process.send_signal(signal.SIGCONT)
        await wait_until_ready(own_client, within=10)
        assert (await own_client.get(f"{PREFIX}/find-one")).status == 200


class TestDatabaseAbsentAtStart:
    """Issue 12 item 1: the app starts with no database and serves what it can."""

    @pytest.fixture
    async def absent(self, make_config, make_client):
        port = free_port()
        # The production default: a start that waited out one database timeout would show.
        config = make_config(environ={
            "APP__MONGODB__URI": f"mongodb://127.0.0.1:{port}/?directConnection=true",
            "APP__MONGODB__TIMEOUT": "2s"})
        started = time.monotonic()
        client = await make_client(config, test_routes=True)
        # A refused connection is known at once: startup does not wait for the database.
        assert time.monotonic() - started < 1.0
        return client, port

    async def test_liveness_at_once_the_rest_503_within_3s(self, absent):
        client, _ = absent
        resp, body, took = await timed(client, "/health")
        assert (resp.status, body["status"]) == (200, "healthy")
        assert took < 0.5
        resp, body, took = await timed(client, "/health/ready")
        assert (resp.status, body) == (503, NEVER_PREPARED)
        assert took < DEADLINE_S
        started = time.monotonic()
        resp = await client.post(LOGIN, json={"email": "a@example.com", "password": "x"})
        body = await resp.json()
        assert (resp.status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
        assert body["requestId"] == resp.headers["X-Request-ID"]
        # The first attempt has failed by now: refused at once, not after a driver timeout.
        assert time.monotonic() - started < 0.5

    async def test_ready_once_the_database_appears(self, absent):
        client, port = absent
        assert (await client.get("/health/ready")).status == 503
        db = EmbeddedDb(":memory:", port=port)
        await asyncio.to_thread(db.start)
        try:
            await wait_until_ready(client, within=10)
            resp = await client.post(LOGIN, json={"email": "a@example.com", "password": "x"})
            assert resp.status == 401
            assert (await client.get(f"{PREFIX}/find-one")).status == 200
        finally:
            await asyncio.to_thread(db.stop)

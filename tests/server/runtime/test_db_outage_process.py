"""run.py as a real process with its database absent at start, appearing later and going again
(issue 12 item 1): workers serve throughout and the supervisor never restarts them."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.db import MODELS
from server.runtime.embedded_db import EmbeddedDb, free_port
from tests._process import Service, get, wait_for, write_config

pytestmark = pytest.mark.process

LOGIN = "/api/v1/auth/login"
CREDENTIALS = {"email": "nobody@example.com", "password": "Wrong-password-1"}
# Collections whose model declares indexes (users, sessions, outbox, rate_limits).
INDEXED_COLLECTIONS = len([m for m in MODELS if m.INDEXES])  # one createIndexes each


def post(url: str, body: dict[str, Any], timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def timed(call: Any, *args: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call(*args)
    return result, time.monotonic() - started


def samples(service: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = get(service.metrics_url)  # the metrics listener (loopback, no token)
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


def index_builds(service: Service) -> float:
    """createIndexes commands sent by every worker together (the metrics are service-wide)."""
    return samples(service).get(
        ("gatehouse_db_commands_total", (("command", "createIndexes"),)), 0.0)


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def service(tmp_path: Path, closed_port: int) -> Iterator[Service]:
    """Two workers whose database (and rate-limit store) is at a port nothing listens on."""
    uri = f"mongodb://127.0.0.1:{closed_port}/?directConnection=true"
    config = write_config(
        tmp_path / "config.yaml", mongodb={"uri": uri, "database": "gh_outage"},
        rate_limit={"enabled": True, "store": "mongodb", "timeout": "1s", "max": 1000,
                    "auth_max": 1000},
        metrics={"token": ""})  # the loopback metrics listener, scraped as operators do
    running = Service(tmp_path, config, workers=2)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def database(tmp_path: Path, closed_port: int) -> Iterator[EmbeddedDb]:
    """Not started: the test starts (and stops) it on the closed port, with data on disk so
    a restart finds what the service built."""
    db = EmbeddedDb(str(tmp_path / "db"), port=closed_port)
    try:
        yield db
    finally:
        db.stop()


def assert_started_without_waiting(service: Service, workers: set[int]) -> None:
    """No worker's startup waited for the database: a refused connection is known at once,
    so startup takes a fraction of the database timeout (1 s here) that waiting would add.
    Unlike a wall-clock bound on spawning a worker, this holds on a loaded machine."""
    for pid in workers:
        (ready,) = [e for e in service.events("worker_ready") if e["pid"] == pid]
        assert ready["startup_s"] < 0.5


def assert_unavailable(service: Service) -> None:
    (status, body), took = timed(get, service.url + "/health/ready")
    assert status == 503
    assert json.loads(body)["status"] == "unavailable"
    assert took < 3.0
    (status, body), took = timed(post, service.url + LOGIN, CREDENTIALS)
    assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert took < 3.0


def wait_ready(service: Service, workers: set[int], within: float) -> None:
    """Until /health/ready answers 200 and every worker has its schema (each worker answers
    for itself: a probe may reach either)."""

    def check() -> bool:
        prepared = {e["pid"] for e in service.events("db_ready")}
        return prepared == workers and get(service.url + "/health/ready")[0] == 200

    wait_for(check, within, "ready 200 from every worker")


def assert_never_restarted(service: Service, workers: set[int]) -> None:
    assert service.events("worker_failed") == []
    assert service.events("worker_restart") == []
    assert service.ready_worker_pids() == workers
    assert "Traceback" not in service.stderr()


class TestDatabaseAbsentAtStart:
    def test_serves_while_absent_then_ready_once_it_answers_and_again_after_an_outage(
        self, service: Service, database: EmbeddedDb
    ) -> None:
        service.start()  # /health 200 (about 1.2 s after launch on an idle machine)
        wait_for(lambda: len(service.ready_worker_pids()) == 2, 10, "two workers serving")
        workers = service.ready_worker_pids()
        assert_started_without_waiting(service, workers)
        assert_unavailable(service)
        # The mail sender waits for the schema instead of polling a database that is absent.
        assert service.events(logger="gatehouse.mail") == []
        # Every counter family is there at 0 across workers, though nothing has happened.
        before = samples(service)
        assert before[("gatehouse_auth_events_total", (("event", "lockout"),))] == 0
        assert before[("gatehouse_rate_limit_rejections_total", (("budget", "auth"),))] == 0

        database.start()
        wait_ready(service, workers, within=10)
        assert post(service.url + LOGIN, CREDENTIALS)[0] == 401
        # Both workers raced for the schema step; it ran once.
        assert index_builds(service) == INDEXED_COLLECTIONS
        assert_never_restarted(service, workers)

        database.stop()
        assert_unavailable(service)
        database.start()
        wait_ready(service, workers, within=10)
        assert post(service.url + LOGIN, CREDENTIALS)[0] == 401
        assert index_builds(service) == INDEXED_COLLECTIONS  # not again after an outage
        assert_never_restarted(service, workers)

        service.signal(signal.SIGTERM)
        assert service.wait() == 0

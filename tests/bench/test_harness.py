"""The benchmark's readings: wrk reports, database commands on /metrics, the printed table."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from bench import bare_app, probe, wrk
from bench.report import Check, Row, checks, table
from bench.service import gatehouse, write_config
from tests.conftest import METRICS_AUTH

REPORT = """Running 5s test @ http://127.0.0.1:8080/health
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.12ms  340.16us   5.29ms   90.07%
    Req/Sec    28.82k     2.83k   35.02k    74.19%
  Latency Distribution
     50%  850.00us
     75%    1.29ms
     90%    1.41ms
     99%    1.20s
  88841 requests in 5.01s, 22.36MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 17
Requests/sec:  17732.33
Transfer/sec:      7.21MB
"""


def db_commands(text: str) -> dict[str, float]:
    return {s.labels["command"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "gatehouse_db_commands_total"}


class TestWrkReport:
    def test_numbers_and_units(self):
        result = wrk.parse(REPORT)
        assert result.requests == 88841
        assert result.seconds == pytest.approx(5.01)
        assert result.rps == pytest.approx(17732.33)
        assert result.p50_ms == pytest.approx(0.85)
        assert result.p99_ms == pytest.approx(1200.0)
        assert result.non_2xx == 17
        assert result.socket_errors == 5

    def test_clean_run_has_no_errors(self):
        clean = "\n".join(line for line in REPORT.splitlines()
                          if "errors" not in line and "Non-2xx" not in line)
        result = wrk.parse(clean)
        assert (result.non_2xx, result.socket_errors) == (0, 0)

    def test_usage_text_is_refused(self):
        with pytest.raises(ValueError, match="unexpected wrk output"):
            wrk.parse("Usage: wrk <options> <url>\n")


class TestPrintedTable:
    def test_missing_numbers_read_na(self):
        text = table([Row("POST /api/v1/auth/login", "1", note="n/a (route missing)"),
                      Row("GET /health", "2", 12345.6, 1.234, 5.0, 0.0, 0, "", 79.4)])
        lines = text.splitlines()
        assert lines[2] == ("| POST /api/v1/auth/login | 1 | n/a | n/a | n/a | n/a | n/a | n/a "
                            "| n/a (route missing) |")
        assert lines[3] == "| GET /health | 2 | 12,346 | 1.23 | 5.00 | 0.000 | 79 | 0 |  |"

    def test_checks_say_pass_fail_or_na(self):
        text = checks([Check("a", "1", True), Check("b", "2", False), Check("c", "n/a", None)])
        assert [line.rsplit("|", 2)[1].strip() for line in text.splitlines()[2:]] == [
            "PASS", "FAIL", "n/a"]


async def settled_commands(client) -> dict[str, float]:
    """The command counts once start-up work (indexes, the mail sender's first claim) is over."""
    previous = db_commands(await (await client.get("/metrics", headers=METRICS_AUTH)).text())
    for _ in range(50):
        await asyncio.sleep(0.05)
        current = db_commands(await (await client.get("/metrics", headers=METRICS_AUTH)).text())
        if current == previous:
            return current
        previous = current
    raise AssertionError("database commands never settled")


@pytest.fixture
async def quiet_client(make_client, make_config):
    # The mail sender polls the outbox in the background (every 100 ms in tests); park it,
    # so that only what the requests themselves send is counted.
    return await make_client(make_config(mail={"poll_interval": timedelta(hours=1)}))


class TestDatabaseCommandCounter:
    async def test_health_sends_no_command(self, quiet_client):
        before = await settled_commands(quiet_client)
        for _ in range(3):
            assert (await quiet_client.get("/health")).status == 200
        after = db_commands(await (await quiet_client.get("/metrics", headers=METRICS_AUTH)).text())
        assert after == before

    async def test_each_command_is_counted_by_name(self, client):
        before = db_commands(await (await client.get("/metrics", headers=METRICS_AUTH)).text())
        for _ in range(3):
            assert (await client.get("/health/ready")).status == 200
        after = db_commands(await (await client.get("/metrics", headers=METRICS_AUTH)).text())
        assert after["ping"] - before.get("ping", 0) == 3


class TestYardsticks:
    """The bare app stands in for the service in the ratios: same body shape, and with
    --contract-headers the same response headers the service sends on /health."""

    async def test_contract_headers_match_the_service(self, aiohttp_client, client):
        dressed = await aiohttp_client(bare_app.make_app(contract_headers=True))
        ours, theirs = await client.get("/health"), await dressed.get("/health")
        # aiohttp's Server banner is the one difference: the service removes it.
        skipped = {"Server", "Date", "Content-Length"}
        assert ({h.title() for h in theirs.headers} - skipped
                == {h.title() for h in ours.headers} - skipped)
        assert (await theirs.json()).keys() == (await ours.json()).keys()

    async def test_plain_and_layered_bare_app_send_no_contract_header(self, aiohttp_client):
        for app in (bare_app.make_app(), bare_app.make_app(empty_layers=10)):
            reply = await (await aiohttp_client(app)).get("/health")
            assert reply.status == 200
            assert "X-Request-ID" not in reply.headers
            assert "Content-Security-Policy" not in reply.headers
        assert len(bare_app.make_app(empty_layers=10).middlewares) == 10


async def _read_counters(metrics_url: str, ready_url: str, times: int) -> tuple:
    async with aiohttp.ClientSession() as session:
        before = await probe.counters(session, metrics_url)
        for _ in range(times):
            async with session.get(ready_url) as reply:
                assert reply.status == 200
        return before, await probe.counters(session, metrics_url)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 - loopback
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.process
class TestBenchReadsTheMetricsPort:
    def test_production_run_counts_commands_per_request_on_its_metrics_port(
            self, tmp_path: Path, mongo_uri: str) -> None:
        # The benchmark's own config (production) and process, as `python -m bench` runs them.
        database = f"gh_bench_{uuid.uuid4().hex[:12]}"
        target = gatehouse("harness", write_config(tmp_path / "bench.yaml", mongo_uri,
                                                   database, limiter=True), workers=1)
        try:
            target.start("/health")
            before, after = asyncio.run(_read_counters(target.metrics_url,
                                                       target.url + "/health/ready", 3))
            assert _status(target.url + "/metrics") == 404  # never on the API port
        finally:
            target.stop()
            client: MongoClient = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)  # type: ignore[type-arg]
            client.drop_database(database)
            client.close()
        assert after.requests - before.requests == 3
        assert after.db_commands - before.db_commands >= 3  # a ping each

"""run.py as a real process: workers restart, graceful SIGTERM, SIGHUP reload, shared metrics."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests._app import bearer
from tests._process import Service, alive, get, service_pool, wait_for, write_config

pytestmark = pytest.mark.process

MakeService = Callable[..., Service]


@pytest.fixture
def make_service(tmp_path: Path, mongo_uri: str) -> Iterator[MakeService]:
    """Services on the session's database server, each on a fresh database; all killed and
    dropped afterwards, whatever happened."""
    with service_pool(mongo_uri) as (services, names):
        def build(workers: int = 2, **sections: dict[str, Any]) -> Service:
            name = f"gh_proc_{uuid.uuid4().hex[:12]}"
            names.add(name)
            mongodb = {"uri": mongo_uri, "database": name, **sections.pop("mongodb", {})}
            # The shipped default: no metrics.token, so the metrics listener is anonymous.
            metrics = {"token": "", **sections.pop("metrics", {})}
            config = write_config(
                tmp_path / f"config-{len(services)}.yaml", mongodb=mongodb, metrics=metrics,
                **sections
            )
            services.append(Service(tmp_path, config, workers))
            return services[-1]

        yield build


def ready_workers(service: Service, without: Collection[int] = (), count: int = 2) -> set[int]:
    """Wait until exactly `count` workers serve (and those `without` are reaped); their pids."""

    def check() -> set[int]:
        pids = service.ready_worker_pids()
        if len(pids) != count or set(without) & service.worker_pids():
            return set()
        return pids

    return wait_for(check, 15, "two workers serving")


def metric(service: Service, name: str, **labels: str) -> float:
    """One sample of the metrics listener's /metrics (0 when absent), from whichever worker
    answers."""
    status, body = get(service.metrics_url)
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def health_count(service: Service) -> float:
    """gatehouse_http_requests_total for GET /health 200, as /metrics reports it."""
    return metric(
        service, "gatehouse_http_requests_total", method="GET", route="/health", status="200"
    )


# A body forgot-password accepts (an unknown address: 200, no mail), padded to any length.
FORGOT_BODY = b'{"email": "nobody@example.com"}'


def slow_request(port: int, body: bytes, first: int) -> socket.socket:
    """A POST /auth/forgot-password whose JSON body has only its first `first` bytes sent.

    No debug route in the app: the request is slow because its *body* arrives slowly. The
    sanitize middleware awaits the whole body of a route that takes one before the handler
    runs, so the request stays in flight inside the worker until the rest is sent."""
    head = (
        f"POST /api/v1/auth/forgot-password HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    conn = socket.create_connection(("127.0.0.1", port), timeout=20)
    conn.sendall(head + body[:first])
    return conn


def served_by(service: Service, path: str) -> Counter[int]:
    """How many access lines each worker pid wrote for `path`."""
    return Counter(
        line["pid"]
        for line in service.events(logger="gatehouse.access")
        if line.get("path") == path
    )


class TestStartup:
    def test_logs_one_start_line_without_the_database_uri(
        self, make_service: MakeService, mongo_uri: str
    ) -> None:
        service = make_service().start()
        (line,) = service.events("listening")
        assert line["address"] == f"http://127.0.0.1:{service.port}"
        assert line["workers"] == 2
        assert line["database"] == "external"
        assert mongo_uri not in service.log_path.read_text()
        ready_workers(service)
        service.signal(signal.SIGTERM)
        assert service.wait() == 0

    def test_database_credentials_never_reach_the_logs_and_workers_keep_serving(
        self, make_service: MakeService, mongo_uri: str
    ) -> None:
        host = mongo_uri.split("://", 1)[1].rsplit("@", 1)[-1].split("/", 1)[0]
        uri = f"mongodb://gate:s3cr3t-pw@{host}/?directConnection=true&authSource=admin"
        # Wrong credentials: the schema step fails and keeps retrying; the workers serve
        # /health and answer 503 for the rest, and are never restarted (issue 12 item 1).
        service = make_service(mongodb={"uri": uri}).start()
        wait_for(lambda: len(service.events("db_unavailable")) >= 2, 20, "both workers to fail")
        (line,) = service.events("listening")
        assert (line["database"], line["db_hosts"]) == ("external", host)
        failed = service.events("db_unavailable")[0]
        assert (failed["error"], failed["code"]) == ("OperationFailure", "AuthenticationFailed")
        assert get(service.url + "/health/ready")[0] == 503
        assert service.events("worker_failed") == []
        assert service.events("worker_restart") == []
        output = service.log_path.read_text() + service.stderr()
        assert "s3cr3t" not in output
        assert "Traceback" not in output
        service.signal(signal.SIGTERM)
        assert service.wait() == 0


class TestWorkerCrash:
    def test_killed_worker_is_replaced_while_the_service_keeps_answering(
        self, make_service: MakeService
    ) -> None:
        service = make_service().start()
        victim, survivor = sorted(ready_workers(service))
        os.kill(victim, signal.SIGKILL)
        statuses = [get(service.url + "/health")[0] for _ in range(10)]
        assert statuses == [200] * 10
        pids = ready_workers(service, without={victim})
        assert survivor in pids
        assert not alive(victim)
        (replacement,) = pids - {survivor}
        assert get(service.url + "/health")[0] == 200
        service.signal(signal.SIGTERM)
        assert service.wait() == 0
        assert not alive(replacement)
        assert not alive(survivor)


class TestCrashLoopBackoff:
    def test_workers_that_keep_dying_young_are_restarted_ever_later(
        self, make_service: MakeService
    ) -> None:
        service = make_service(workers=1).start()
        (worker,) = ready_workers(service, count=1)
        for _ in range(3):
            os.kill(worker, signal.SIGKILL)
            (worker,) = ready_workers(service, without={worker}, count=1)
        delays = [e["delay_s"] for e in service.events("worker_restart")]
        assert delays == [0.5, 1.0, 2.0]
        service.signal(signal.SIGTERM)
        assert service.wait() == 0


class TestTerminalInterrupt:
    def test_ctrl_c_to_the_process_group_stops_everything_cleanly(
        self, make_service: MakeService
    ) -> None:
        service = make_service().start()
        workers = ready_workers(service)
        assert service.process is not None
        # What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
        os.killpg(service.process.pid, signal.SIGINT)
        assert service.wait() == 0
        stops = service.events("signal")
        assert [e["signal"] for e in stops] == ["SIGINT"]
        exits = {e["worker_pid"]: e["exit_code"] for e in service.events("worker_exited")}
        assert exits == dict.fromkeys(workers, 0)


class TestGracefulStop:
    def test_sigterm_lets_a_slow_upload_finish_then_exits_zero(
        self, make_service: MakeService
    ) -> None:
        service = make_service().start()
        ready_workers(service)
        body = FORGOT_BODY + b" " * 1990
        with slow_request(service.port, body, 10) as conn:
            time.sleep(0.5)
            service.signal(signal.SIGTERM)
            wait_for(lambda: service.events("worker_stopping"), 5, "workers told to stop")
            for start in range(10, len(body), 200):
                time.sleep(0.2)
                conn.sendall(body[start : start + 200])
            response = _read_all(conn)
        assert response.startswith(b"HTTP/1.1 200"), response[:200]
        assert b"a password reset link has been sent" in response
        assert service.wait() == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", service.port), timeout=2).close()


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class TestReload:
    def test_sighup_replaces_every_worker_and_refuses_no_request(
        self, make_service: MakeService
    ) -> None:
        service = make_service().start()
        old = ready_workers(service)
        done = threading.Event()
        results: list[int | str] = []

        def hammer() -> None:
            while not done.is_set():
                try:
                    results.append(get(service.url + "/health")[0])
                except OSError as exc:
                    results.append(repr(exc))

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            time.sleep(0.5)
            service.signal(signal.SIGHUP)
            wait_for(lambda: service.events("reloaded"), 20, "reload complete")
            wait_for(lambda: not old & service.worker_pids(), 20, "old workers exited")
            time.sleep(0.5)
        finally:
            done.set()
            thread.join(10)
        failures = [r for r in results if r != 200]
        assert failures == []
        assert len(results) > 20
        new = service.ready_worker_pids()
        assert len(new) == 2
        assert not new & old
        service.signal(signal.SIGTERM)
        assert service.wait() == 0


class TestReloadConfig:
    def test_sighup_rereads_the_config_file_and_keeps_the_old_one_when_it_is_bad(
        self, make_service: MakeService
    ) -> None:
        service = make_service(workers=1).start()
        ready_workers(service, count=1)
        config = Path(service.argv[service.argv.index("--config") + 1])
        config.write_text(
            config.read_text().replace("environment: test", "environment: development")
        )
        service.signal(signal.SIGHUP)
        wait_for(lambda: service.events("reloaded"), 20, "first reload")
        assert json.loads(get(service.url + "/health")[1])["environment"] == "development"

        config.write_text(config.read_text() + "\nnot_a_section: 1\n")
        service.signal(signal.SIGHUP)
        wait_for(lambda: len(service.events("reloaded")) == 2, 20, "second reload")
        (refused,) = service.events("config_error")
        assert refused["error"] == "not_a_section: unknown key"
        assert json.loads(get(service.url + "/health")[1])["environment"] == "development"
        service.signal(signal.SIGTERM)
        assert service.wait() == 0


class TestMetricsAcrossWorkers:
    def test_metrics_sum_requests_served_by_every_worker(self, make_service: MakeService) -> None:
        service = make_service().start()
        ready_workers(service)
        before = health_count(service)
        baseline = served_by(service, "/health")
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            # Fresh connections in parallel batches until both workers have served some.
            while sent < 400:
                statuses = list(pool.map(lambda _: get(service.url + "/health")[0], range(16)))
                assert statuses == [200] * 16
                sent += 16
                if len(served_by(service, "/health") - baseline) == 2:
                    break
        spread = served_by(service, "/health") - baseline
        assert len(spread) == 2, spread
        assert sum(spread.values()) == sent
        # Whichever worker answers on the metrics port reports the service-wide total.
        answers = set()
        for _ in range(40):
            answers.add(health_count(service))
            if len(served_by(service, "/metrics")) == 2:
                break
        assert len(served_by(service, "/metrics")) == 2
        assert answers == {before + sent}
        service.signal(signal.SIGTERM)
        assert service.wait() == 0

    def test_a_killed_workers_in_flight_gauge_is_dropped(self, make_service: MakeService) -> None:
        service = make_service().start()
        workers = ready_workers(service)
        in_flight = "gatehouse_http_requests_in_flight"
        with slow_request(service.port, FORGOT_BODY, 5):
            # The stuck upload (scrapes on the metrics listener are not API requests).
            wait_for(lambda: metric(service, in_flight) == 1, 10, "the upload counted in flight")
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            ready_workers(service, without=workers)
            # A dead worker's live gauge is gone.
            assert metric(service, in_flight) == 0
        service.signal(signal.SIGTERM)
        assert service.wait() == 0


class TestMetricsListener:
    """Issue 13 item 7: metrics on a listener of their own, never to anonymous API clients."""

    def test_api_port_never_serves_metrics_anonymously(self, make_service: MakeService) -> None:
        service = make_service().start()
        ready_workers(service)
        for _ in range(4):  # fresh connections: more than one worker answers
            status, body = get(service.url + "/metrics")
            assert status == 404
            assert b"gatehouse_" not in body
        (line,) = service.events("listening")
        assert line["metrics_address"] == f"http://127.0.0.1:{service.metrics_port}/metrics"
        service.signal(signal.SIGTERM)
        assert service.wait() == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", service.metrics_port), timeout=2).close()

    def test_with_a_token_both_ports_need_it(self, make_service: MakeService) -> None:
        token = "t" * 40
        service = make_service(metrics={"token": token}).start()
        assert get(service.url + "/metrics")[0] == 401
        assert get(service.metrics_url)[0] == 401
        request = urllib.request.Request(  # noqa: S310 - loopback
            service.metrics_url, headers=bearer(token))
        with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310 - loopback
            assert b"gatehouse_db_commands_total" in reply.read()
        service.signal(signal.SIGTERM)
        assert service.wait() == 0

    def test_a_taken_metrics_port_stops_the_start_naming_it(
        self, make_service: MakeService
    ) -> None:
        first = make_service(workers=1).start()
        second = make_service(workers=1)
        index = second.argv.index("--metrics-port") + 1
        second.argv[index] = str(first.metrics_port)
        second.launch()
        assert second.wait() == 1
        assert f"cannot listen on 127.0.0.1:{first.metrics_port}" in second.stderr()
        # The API port it had bound is released again.
        socket.create_server(("127.0.0.1", second.port)).close()
        first.signal(signal.SIGTERM)
        assert first.wait() == 0

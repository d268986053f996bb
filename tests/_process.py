"""The one `run.py` harness of the process tests: a running service (`Service`, whose JSON log
lines the test reads) and one-shot commands (`run_cli`), each free of the caller's APP__
variables, so only what the test configured applies."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from pymongo import MongoClient

from server.runtime.embedded_db import free_port
from tests.conftest import ROOT, TEST_CONFIG

T = TypeVar("T")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without APP__ variables (they would override the test's
    config), plus `extra`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("APP__")}, **extra}


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """`python run.py ARGS` to completion (stdout and stderr captured as text); `env` adds
    variables, APP__ ones included, to the clean environment."""
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "run.py", *args], cwd=ROOT, env=clean_env(**(env or {})),
        capture_output=True, text=True, timeout=timeout, check=False)


def write_config(path: Path, **sections: Any) -> Path:
    """tests/config.test.yaml with some sections' keys (or top-level values) replaced; info
    logs, since the master logs worker pids at info."""
    data = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    data.setdefault("logging", {})["level"] = "info"
    data.setdefault("server", {})["shutdown_timeout"] = "10s"
    for name, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(name, {}).update(values)
        else:
            data[name] = values
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def wait_for(check: Callable[[], T], timeout: float, what: str) -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def get(url: str, timeout: float = 5.0,
        headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One GET on a fresh connection (urllib never reuses one): (status, body)."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Service:
    """`python run.py --config CONFIG --port PORT --workers N --metrics-port M` with stdout in a
    log file; each service gets free ports of its own, so services never collide."""

    def __init__(self, tmp_path: Path, config: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.log_path = tmp_path / f"service-{self.port}.log"
        self.err_path = tmp_path / f"service-{self.port}.err"
        self.argv = [
            sys.executable,
            "run.py",
            "--config",
            str(config),
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--metrics-port",
            str(self.metrics_port),
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Service:
        """Launch and wait until GET /health answers 200."""
        self.launch()
        wait_for(self._healthy, timeout, "GET /health to answer 200")
        return self

    def launch(self) -> Service:
        # Unbuffered: tests read the log (which worker served what) while the service runs.
        env = clean_env(PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as out, self.err_path.open("ab") as err:
            # Own process group, so cleanup can kill the master and its workers together.
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv
                self.argv, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True
            )
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"run.py exited {self.process.returncode}: {self.stderr()}")
        try:
            return get(self.url + "/health", timeout=2)[0] == 200
        except OSError:
            return False

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def events(self, event: str | None = None, logger: str | None = None) -> list[dict[str, Any]]:
        """The JSON log lines so far, optionally only one `event` or one `logger`."""
        lines = []
        for raw in self.log_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(raw))
        return [
            line
            for line in lines
            if (event is None or line.get("event") == event)
            and (logger is None or line.get("logger") == logger)
        ]

    def worker_pids(self) -> set[int]:
        """Workers the master started and has not yet seen exit."""
        started = {e["worker_pid"] for e in self.events("worker_started")}
        exited = {e["worker_pid"] for e in self.events("worker_exited")}
        return started - exited

    def ready_worker_pids(self) -> set[int]:
        """Live workers that reported they are serving."""
        return self.worker_pids() & {e["pid"] for e in self.events("worker_ready")}

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout: float = 25.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait for a graceful exit, then `close()` whatever is left."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        self.close()

    def close(self) -> None:
        """Always called in `finally`: nothing may outlive the test, even after a failure."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        # The embedded database runs in a session of its own; kill it if the master did not stop it.
        if self.log_path.exists():
            stopped = {e["db_pid"] for e in self.events("db_stopped")}
            for event in self.events("db_started"):
                if event["db_pid"] not in stopped:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(event["db_pid"], signal.SIGKILL)


def alive(pid: int) -> bool:
    """True while `pid` exists (and is not a zombie awaiting its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return status.read_text().split(")")[-1].split()[0] != "Z"
    return True


@contextlib.contextmanager
def service_pool(mongo_uri: str) -> Iterator[tuple[list[Service], set[str]]]:
    """The services a test starts and the databases they use on the session's server: all
    killed and dropped afterwards, whatever happened (for `make_service` fixtures)."""
    services: list[Service] = []
    names: set[str] = set()
    try:
        yield services, names
    finally:
        for service in services:
            service.close()
        client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
        try:
            for name in names:
                client.drop_database(name)
        finally:
            client.close()

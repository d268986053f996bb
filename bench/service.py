"""The processes under test: run.py (master + workers) and the bare yardstick app.

Each is started on a free loopback port with its stdout (the JSON access log) sent to
/dev/null, so the terminal and the disk are not part of what is measured; stderr goes to
bench/out/<name>.err for post-mortems.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from server.runtime.embedded_db import free_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# Budgets no benchmark run can reach: the limiter still does all its work (counting in the
# database, headers), it just never says no.
LIFTED = 1_000_000_000


# A fixed key-encryption key: the benchmark's keys live in a throwaway in-memory database.
BENCH_KEK = "YmVuY2gta2V5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGU"


def write_config(path: Path, mongo_uri: str, database: str, limiter: bool,
                 algorithm: str = "HS256", **jwt: object) -> Path:
    """The service config of a benchmark run: production mode, bcrypt 12, info-level JSON logs;
    access tokens signed with `algorithm` (HS256 unless a row compares signing algorithms)."""
    config = {
        "environment": "production",
        "mongodb": {"uri": mongo_uri, "database": database},
        "jwt": {"secret": "bench-access-secret-" + "x" * 32,
                "refresh_secret": "bench-refresh-secret-" + "y" * 32,
                "algorithm": algorithm, "key_encryption_key": BENCH_KEK, **jwt},
        "security": {"bcrypt_rounds": 12},
        "rate_limit": {"enabled": limiter, "max": LIFTED, "auth_max": LIFTED,
                       "user_max": LIFTED},
        # The outbox sender's idle polling would add database commands no request made; mail
        # sent during the run (verification at register) still wakes it at once.
        "mail": {"backend": "file", "file_dir": str(OUT / "mail"), "poll_interval": "1h"},
        "logging": {"level": "info", "format": "json"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - loopback
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command, which may hold spaces) is the parent pid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def stat_cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks, every thread) from the text of /proc/<pid>/stat."""
    # Fields 14 and 15; counted after the parenthesised command, which may hold spaces.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def pid_cpu_seconds(pid: int) -> float:
    """User + system CPU time process `pid` (all its threads) has used; 0.0 once it is gone."""
    try:
        return stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) in MiB, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Process:
    """A server child process listening on `port` once `start()` returns."""

    name: str
    argv: list[str]
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None
    metrics_port: int | None = None  # run.py's metrics listener (`--metrics-port`)
    env: dict[str, str] | None = None  # added to our environment
    stdout: Path | None = None  # where stdout goes (an access log to count); else /dev/null

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        """Where the service's counters are read: its metrics listener, never the API port."""
        if self.metrics_port is None:
            raise RuntimeError(f"{self.name} has no metrics listener")
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self, ready_path: str, timeout: float = 60.0) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        out = self.stdout.open("ab") if self.stdout else subprocess.DEVNULL
        try:
            with (OUT / f"{self.name}.err").open("wb") as err:
                self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and script
                    [*self.argv, "--port", str(self.port), *self._metrics_flag()], cwd=ROOT,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
                    env={**os.environ, **self.env} if self.env else None)
        finally:
            if not isinstance(out, int):
                out.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if _get(self.url + ready_path, 1.0)[0] == 200:
                    return
            except OSError:
                pass
            if self.popen.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not come up: see {OUT / self.name}.err")
            time.sleep(0.2)

    def _metrics_flag(self) -> list[str]:
        return [] if self.metrics_port is None else ["--metrics-port", str(self.metrics_port)]

    def workers(self) -> list[int]:
        """The pids serving requests: run.py's spawned workers, or the process itself."""
        if self.popen is None:
            return []
        spawned = [pid for pid in _children(self.popen.pid) if _is_worker(pid)]
        return spawned or [self.popen.pid]

    def cpu_seconds(self, with_master: bool = False) -> float:
        """User + system CPU time the serving processes (all their threads) have used; with
        `with_master`, the supervising process's too when it is not itself the server."""
        pids = self.workers()
        if with_master and self.popen is not None and self.popen.pid not in pids:
            pids.append(self.popen.pid)
        return sum(pid_cpu_seconds(pid) for pid in pids)

    def stop(self) -> None:
        popen, self.popen = self.popen, None
        if popen is None or popen.poll() is not None:
            return
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()


def _is_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"spawn_main" in cmdline


def gatehouse(name: str, config: Path, workers: int) -> Process:
    """run.py serving `config` with `workers` workers."""
    return Process(name, [sys.executable, "run.py", "serve", "--config", str(config),
                          "--workers", str(workers)], metrics_port=free_port())


# The bare app sending the contract's response headers: bytes on the wire versus chain work.
DRESSED = "bare + contract headers"


def bare(name: str = "bare", contract_headers: bool = False, empty_layers: int = 0) -> Process:
    flags = ["--contract-headers"] if contract_headers else []
    flags += ["--empty-layers", str(empty_layers)] if empty_layers else []
    return Process(name, [sys.executable, "-m", "bench.bare_app", *flags])

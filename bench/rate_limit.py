"""`python -m bench.rate_limit`: what the rate limiter costs, per store, in one run.

Starts a throwaway embedded database and a redis-server on loopback, then serves run.py
(one worker) three times: limiter off, on with the mongodb store, on with the redis store.
Each is loaded by wrk with authenticated `GET /api/v1/users/me` from one client, then from
many. Budgets are lifted out of reach, so the limiter does all its work and never says no.

Database commands come from the service's own command listener (`gatehouse_db_commands_total`
on its metrics listener); Redis commands from `INFO commandstats`. Both are divided by the
requests the service counted. Prints a Markdown table and checks that the redis store keeps
at least 80% of the unlimited throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from server.core.http import API_PREFIX
from server.runtime.embedded_db import EmbeddedDb, free_port

ROOT = Path(__file__).resolve().parent.parent
ME = f"{API_PREFIX}/users/me"
LIFTED = 1_000_000_000
MODES = ("off", "mongodb", "redis")
_P99 = re.compile(r"^\s*99(?:\.0+)?%\s+(\S+)\s*$", re.MULTILINE)  # wrk --latency's table
WRK_SCRIPT = 'function init(args) wrk.headers["Authorization"] = "Bearer " .. args[1] end\n'


@dataclass(frozen=True, slots=True)
class Row:
    mode: str
    clients: int
    rps: float
    p99_ms: float
    db_per_req: float
    limiter_db_per_req: float
    redis_per_req: float
    redis_trips_per_req: float
    non_2xx: int


def write_config(path: Path, mode: str, mongo_uri: str, redis_url: str) -> Path:
    config = {
        "environment": "development",
        "mongodb": {"uri": mongo_uri, "database": f"rl_bench_{mode}_{uuid.uuid4().hex[:6]}"},
        "security": {"bcrypt_rounds": 4},
        "rate_limit": {"enabled": mode != "off", "store": "redis" if mode == "redis" else
                       "mongodb", "redis_url": redis_url, "max": LIFTED, "auth_max": LIFTED,
                       "user_max": LIFTED},
        "mail": {"backend": "file", "file_dir": str(Path(tempfile.gettempdir()) / "rl-mail")},
        "logging": {"level": "warning", "format": "json"},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as reply:  # noqa: S310 - loopback
            return bool(reply.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def start_service(config: Path, port: int, metrics_port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, "run.py", "--config", str(config), "--port", str(port),
         "--workers", "1", "--metrics-port", str(metrics_port)], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _healthy(f"http://127.0.0.1:{port}"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"run.py did not come up with {config}")
        time.sleep(0.2)
    return process


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
        except redis.ConnectionError:
            time.sleep(0.05)
        else:
            return process, url
    process.kill()
    raise RuntimeError("redis-server did not start")


async def register(url: str) -> str:
    body = {"firstName": "Bench", "lastName": "Limiter", "password": "Bench-Passw0rd!",
            "email": f"rl-{uuid.uuid4().hex[:10]}@example.com"}
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}{API_PREFIX}/auth/register", json=body) as reply:
        payload = await reply.json(content_type=None)
        if reply.status != 201:
            raise RuntimeError(f"register answered {reply.status}: {payload.get('error')}")
        return str(payload["data"]["accessToken"])


def service_counts(metrics_url: str) -> tuple[float, float, float]:
    """(database commands, of which findAndModify, requests other than /metrics), summed
    over the service's metrics listener."""
    with urllib.request.urlopen(metrics_url, timeout=5) as reply:  # noqa: S310 - loopback
        text = reply.read().decode()
    db = find_and_modify = requests = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gatehouse_db_commands_total":
                db += sample.value
                if sample.labels.get("command") == "findAndModify":
                    find_and_modify += sample.value
            elif (sample.name == "gatehouse_http_requests_total"
                  and sample.labels.get("route") != "/metrics"):
                requests += sample.value
    return db, find_and_modify, requests


def redis_calls(url: str) -> tuple[int, int]:
    """(commands, round trips): every command Redis ran, including the INCRBY/PEXPIREAT
    inside the script, and the script calls themselves (one per round trip)."""
    client = redis.Redis.from_url(url)
    stats = client.info("commandstats")
    client.close()
    commands = sum(int(v.get("calls", 0)) for k, v in stats.items() if k != "cmdstat_info")
    trips = sum(int(stats.get(k, {}).get("calls", 0)) for k in ("cmdstat_evalsha", "cmdstat_eval"))
    return commands, trips


def wrk(url: str, token: str, clients: int, seconds: int,
        script: Path) -> tuple[float, float, int]:
    """(requests/s, p99 ms, non-2xx count) of one wrk run."""
    out = subprocess.run(  # noqa: S603 - fixed argv
        [shutil.which("wrk") or "/usr/bin/wrk", "-t1", f"-c{clients}", f"-d{seconds}s",
         "--latency", "-s", str(script), url + ME, "--", token],
        capture_output=True, text=True, check=True).stdout
    rps = float(out.split("Requests/sec:")[1].split()[0])
    p99 = _P99.search(out)
    if p99 is None:
        raise ValueError(f"unexpected wrk output:\n{out}")
    non_2xx = int(out.split("Non-2xx or 3xx responses:")[1].split()[0]) if "Non-2xx" in out else 0
    return rps, _ms(p99[1]), non_2xx


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


@dataclass(slots=True)
class Target:
    mode: str
    url: str
    metrics_url: str
    token: str
    process: subprocess.Popen[bytes]


Sample = tuple[float, float, int, list[float]]


def measure(target: Target, clients: int, seconds: int, script: Path, redis_url: str) -> Sample:
    """(req/s, p99, non-2xx, [requests, db cmds, findAndModify, redis cmds, redis trips])."""
    db0, fam0, req0 = service_counts(target.metrics_url)
    r0, t0 = redis_calls(redis_url)
    rps, p99, non_2xx = wrk(target.url, target.token, clients, seconds, script)
    db1, fam1, req1 = service_counts(target.metrics_url)
    r1, t1 = redis_calls(redis_url)
    return rps, p99, non_2xx, [req1 - req0, db1 - db0, fam1 - fam0, r1 - r0, t1 - t0]


def start_target(mode: str, mongo_uri: str, redis_url: str, work: Path) -> Target:
    port, metrics_port = free_port(), free_port()
    process = start_service(write_config(work / f"{mode}.yaml", mode, mongo_uri, redis_url),
                            port, metrics_port)
    url = f"http://127.0.0.1:{port}"
    return Target(mode, url, f"http://127.0.0.1:{metrics_port}/metrics",
                  asyncio.run(register(url)), process)


def run_all(targets: list[Target], script: Path, redis_url: str, seconds: int, many: int,
            rounds: int) -> list[Row]:
    """Rounds interleave the modes, so a noisy neighbour hurts each of them alike; the table
    shows the median req/s and p99 over the rounds, and operation counts over all of them."""
    samples: dict[tuple[str, int], list[Sample]] = {}
    for target in targets:
        wrk(target.url, target.token, 4, 1, script)  # warm-up: connections, script load
    for round_no in range(rounds):
        # Rotate who goes first, so a drift in the machine's load favours no mode.
        order = targets[round_no % len(targets):] + targets[:round_no % len(targets)]
        for clients in (1, many):
            for target in order:
                samples.setdefault((target.mode, clients), []).append(
                    measure(target, clients, seconds, script, redis_url))
    baseline = {clients: _per_request(samples[("off", clients)])[2] for clients in (1, many)}
    rows = []
    for (mode, clients), runs in samples.items():
        per_req = _per_request(runs)
        rows.append(Row(mode, clients, statistics.median(r[0] for r in runs),
                        statistics.median(r[1] for r in runs), per_req[1],
                        max(0.0, per_req[2] - baseline[clients]), per_req[3], per_req[4],
                        sum(r[2] for r in runs)))
    return rows


def _per_request(runs: list[Sample]) -> list[float]:
    totals = [sum(run[3][i] for run in runs) for i in range(5)]
    served = max(1.0, totals[0])
    return [total / served for total in totals]


def table(rows: list[Row]) -> str:
    lines = ["| limiter | clients | req/s (median) | p99 ms | db cmds/req "
             "| limiter findAndModify/req | redis cmds/req | redis round trips/req | non-2xx |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(rows, key=lambda r: (r.clients, MODES.index(r.mode))):
        limiter_db = "-" if r.mode == "off" else f"{r.limiter_db_per_req:.3f}"
        lines.append(f"| {r.mode} | {r.clients} | {r.rps:,.0f} | {r.p99_ms:.1f} | "
                     f"{r.db_per_req:.3f} | {limiter_db} | {r.redis_per_req:.3f} | "
                     f"{r.redis_trips_per_req:.3f} | {r.non_2xx} |")
    return "\n".join(lines)


def report_checks(rows: list[Row], many: int) -> int:
    by = {(r.mode, r.clients): r for r in rows}
    ok = True
    for clients in (1, many):
        off, red = by[("off", clients)].rps, by[("redis", clients)].rps
        share = red / off if off else 0.0
        passed = share >= 0.8
        ok &= passed
        print(f"redis store keeps {share:.0%} of unlimited throughput with {clients} "
              f"client(s) (target >= 80%): {'PASS' if passed else 'FAIL'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--clients", type=int, default=50, help="many-client connections")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per mode")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    db = EmbeddedDb(":memory:")
    mongo_uri = db.start()
    redis_process, redis_url = start_redis()
    targets: list[Target] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            script = work / "bearer.lua"
            script.write_text(WRK_SCRIPT, encoding="utf-8")
            targets = [start_target(mode, mongo_uri, redis_url, work) for mode in MODES]
            rows = run_all(targets, script, redis_url, args.seconds, args.clients, args.rounds)
    finally:
        for target in targets:
            target.process.terminate()
            target.process.wait(20)
        redis_process.terminate()
        db.stop()
    print(table(rows))
    return report_checks(rows, args.clients)


if __name__ == "__main__":
    sys.exit(main())

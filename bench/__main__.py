"""`python -m bench` (or `./dev bench`): run.py against the embedded database, loaded by wrk.

Prints one Markdown table (requests/s, p50, p99, database commands per request per scenario)
and the issue's targets with PASS/FAIL; the same text is saved to bench/out/last-run.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import time
from datetime import UTC, datetime

import aiohttp

from bench import machine, probe, scenarios, wrk
from bench.probe import API
from bench.report import Check, Row, checks, table
from bench.scenarios import Settings
from bench.service import (
    DRESSED,
    LIFTED,
    OUT,
    Process,
    bare,
    gatehouse,
    peak_rss_mb,
    write_config,
)
from server.runtime.embedded_db import EmbeddedDb

# Login connections per worker: workers share one listening socket, so the kernel need not
# split connections evenly; 8 each keeps every worker's bcrypt pool (a thread per core) full.
LOGINS_PER_WORKER = 8


async def _service_rows(target: Process, settings: Settings,
                        label: str) -> tuple[dict[str, Row], float | None]:
    """Every scenario except /health on one running service, keyed by a short name; and the
    bcrypt limit measured just before its logins."""
    workers = len(target.workers())
    rows = {}
    rows["404"] = await scenarios.measure(
        target, f"GET {API}/no-such-route (404 through the chain)", f"{API}/no-such-route",
        settings.seconds, settings.connections, note="every answer a 404, as intended")
    rows["me"] = await scenarios.users_me(target, settings, label)
    users: list[probe.Seeded] = []
    if await probe.route_exists(target.url, "POST", f"{API}/auth/login"):
        try:
            users = await probe.register(target.url, 2 * LOGINS_PER_WORKER, "login")
        except probe.RouteMissing:
            users = []
    logins = LOGINS_PER_WORKER * workers
    rows["login"], limit = await scenarios.login(target, settings, users, logins)
    rows["refresh"] = await scenarios.refresh(target, settings, 8)
    rows["health_login"] = await scenarios.health_under_login(target, settings, users, logins)
    return rows, limit


async def _health_db_ops(yardsticks: list[Process], targets: list[Process],
                         settings: Settings) -> dict[str, Row]:
    """Interleaved /health rounds, with database commands per request for the services."""
    async with aiohttp.ClientSession() as session:
        before = {t.name: await probe.counters(session, t.metrics_url) for t in targets}
        rows = await scenarios.health_rounds(
            {t.name: t for t in [*yardsticks, *targets]}, settings)
        for t in targets:
            after = await probe.counters(session, t.metrics_url)
            served = after.requests - before[t.name].requests
            ops = (after.db_commands - before[t.name].db_commands) / served if served else None
            rows[t.name] = dataclasses.replace(rows[t.name], db_per_request=ops)
    return rows


async def run(settings: Settings) -> str:
    started = time.monotonic()
    described = machine.describe()
    bcrypt_s = machine.bcrypt_check_seconds()
    db = EmbeddedDb(":memory:")
    uri = db.start()
    on = write_config(OUT / "bench-limiter-on.yaml", uri, "gatehouse_bench", limiter=True)
    off = write_config(OUT / "bench-limiter-off.yaml", uri, "gatehouse_bench", limiter=False)
    bare_app, dressed = bare(), bare(DRESSED, contract_headers=True)
    one, two = gatehouse("full chain, 1 worker", on, 1), gatehouse("full chain, 2 workers", on, 2)
    lone = gatehouse("limiter off, 1 worker", off, 1)
    rss: dict[str, float] = {}
    try:
        for process in (bare_app, dressed, one, two):
            process.start("/health" if process in (bare_app, dressed) else "/health/ready")
        for process in (bare_app, dressed, one, two):  # warm-up: imports, caches, pools
            await wrk.run(process.url + "/health", 1, settings.connections)
        health = await _health_db_ops([bare_app, dressed], [one, two], settings)
        by_one, limit_one = await _service_rows(one, settings, "rate limiter on")
        by_two, limit_two = await _service_rows(two, settings, "rate limiter on")
        rss.update(_peaks(one, two, bare_app))
        for process in (one, two):
            process.stop()
        lone.start("/health/ready")
        await wrk.run(lone.url + "/health", 1, settings.connections)
        me_off = await scenarios.users_me(lone, settings, "rate limiter off")
        rss.update(_peaks(lone))
    finally:
        for process in (bare_app, dressed, one, two, lone):
            process.stop()
        db.stop()
    rows = [health["bare"], health[DRESSED], health[one.name], health[two.name]]
    for key in ("404", "me", "login", "refresh", "health_login"):
        rows += [by_one[key], by_two[key]]
    rows.append(me_off)
    found = _targets(health, {"1 worker": (by_one, limit_one), "2 workers": (by_two, limit_two)},
                     me_off, rss, one, two)
    text = _render(rows, found, _cpu_line(health, one, two), rss, described, bcrypt_s,
                   settings, time.monotonic() - started)
    (OUT / "last-run.md").write_text(text + "\n", encoding="utf-8")
    return text


def _peaks(*processes: Process) -> dict[str, float]:
    found = {}
    for process in processes:
        for index, pid in enumerate(process.workers(), 1):
            peak = peak_rss_mb(pid)
            if peak is not None:
                found[f"{process.name} #{index}"] = peak
    return found


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _cpu_line(health: dict[str, Row], p1: Process, p2: Process) -> str:
    bare, dressed, one, two = (health[name].cpu_us
                               for name in ("bare", DRESSED, p1.name, p2.name))
    ratio = _ratio(one, bare)
    return (f"Server CPU per /health request (all threads): bare {_us(bare)}, bare + contract "
            f"headers {_us(dressed)}, full chain {_us(one)} at 1 worker ({ratio:.2f} x bare), "
            f"{_us(two)} at 2 workers" if ratio else "Server CPU per /health request: n/a")


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} us"


def _targets(health: dict[str, Row], services: dict[str, tuple[dict[str, Row], float | None]],
             me_off: Row, rss: dict[str, float], p1: Process, p2: Process) -> list[Check]:
    chain = _ratio(health[p1.name].rps, health["bare"].rps)
    scale = _ratio(health[p2.name].rps, health[p1.name].rps)
    one = services["1 worker"][0]
    found = [
        Check("/health full chain, 1 worker >= 0.7 x bare aiohttp",
              f"{chain:.2f} x" if chain else "n/a", chain >= 0.7 if chain else None),
        Check("/health 2 workers >= 1.6 x 1 worker", f"{scale:.2f} x" if scale else "n/a",
              scale >= 1.6 if scale else None),
    ]
    for label, (rows, _) in services.items():
        p99 = rows["health_login"].p99_ms
        found.append(Check(f"/health p99 during full-speed logins, {label} < 20 ms",
                           f"{p99:.2f} ms" if p99 is not None else "n/a",
                           p99 < 20 if p99 is not None else None))
    for label, (rows, limit) in services.items():
        rps = rows["login"].rps
        if rps is None or not limit:
            found.append(Check(f"logins/s, {label} >= 0.9 x bcrypt limit", "n/a", None))
            continue
        found.append(Check(f"logins/s, {label} >= 0.9 x bcrypt limit ({limit:.2f}/s just "
                           "before)", f"{rps:.2f}/s = {rps / limit:.2f} x", rps >= 0.9 * limit))
    found += [
        _at_most("db ops per /users/me, rate limiter on <= 2", one["me"].db_per_request, 2),
        _at_most("db ops per /users/me, rate limiter off <= 1", me_off.db_per_request, 1),
        _at_most("db ops per /health = 0", health[p1.name].db_per_request, 0),
    ]
    workers = {k: v for k, v in rss.items() if not k.startswith("bare")}
    peak = max(workers.values()) if workers else None
    found.append(_at_most("peak RSS per worker < 100 MB", peak, 99.999, unit=" MiB"))
    return found


def _at_most(target: str, value: float | None, limit: float, unit: str = "") -> Check:
    if value is None:
        return Check(target, "n/a", None)
    shown = round(value, 3)  # db ops: background work (limiter flushes) can leave a residue
    return Check(target, f"{shown:.3f}{unit}", shown <= limit)


def _render(rows: list[Row], found: list[Check], cpu: str, rss: dict[str, float],
            described: str, bcrypt_s: float, settings: Settings, took: float) -> str:
    peaks = ", ".join(f"{name}: {mb:.1f} MiB" for name, mb in rss.items())
    return "\n".join([
        f"Gatehouse benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, took {took:.0f}s",
        f"Machine: {described}",
        f"bcrypt check at 12 rounds, at the start: {bcrypt_s * 1000:.0f} ms on one core -> limit "
        f"{(os.cpu_count() or 1) / bcrypt_s:.2f} logins/s on {os.cpu_count()} cores",
        f"Load: wrk -t1 -c{settings.connections} --latency on the same machine; "
        f"{settings.seconds:g}s per scenario ({settings.login_seconds:g}s for logins).",
        f"Processes under test at nice {os.getpriority(os.PRIO_PROCESS, 0)}. "
        f"Rate limits LIFTED: limiter on (mongodb store, every budget {LIFTED:,}) unless the "
        "row says off; service stdout (JSON access log, level info) -> /dev/null.",
        "Database: embedded SecantusDB (in memory) on the same machine.",
        "Load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "",
        table(rows),
        "",
        cpu,
        f"Peak RSS (VmHWM): {peaks}",
        "",
        checks(found),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario")
    parser.add_argument("--login-seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved /health rounds")
    parser.add_argument("--nice", type=int, default=0,
                        help="run everything under test (service, bare app, database, wrk) at "
                             "this nice value, e.g. -5 on a machine shared with other work "
                             "(negative values need root)")
    args = parser.parse_args()
    if args.nice:
        # Inherited by every process the run starts; bcrypt threads stay 10 nicer than that.
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    settings = Settings(args.seconds, args.login_seconds, args.connections, args.rounds)
    print(asyncio.run(run(settings)))


if __name__ == "__main__":
    main()
